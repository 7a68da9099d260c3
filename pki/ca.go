// Package pki is the deployment's private certificate authority: it creates
// the CA, issues each node a certificate for its names and addresses, and
// keeps both beside the inventory (<inventory>.tls/, like the secrets file)
// so that a second run finds them and issues nothing new.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Lifetimes. A node certificate is renewed by provision once it is within
// RenewBefore of its end, so an operator who provisions at least monthly
// never sees one expire.
const (
	CALifetime   = 10 * 365 * 24 * time.Hour
	NodeLifetime = 365 * 24 * time.Hour
	RenewBefore  = 30 * 24 * time.Hour
)

// CA is a certificate authority: its certificate, and its key when dcctl
// holds it.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	Key     *ecdsa.PrivateKey
	KeyPEM  []byte
}

// NewCA creates a CA (ECDSA P-256) named after the deployment.
func NewCA(name string, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("create CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "dcctl CA " + name, Organization: []string{"dcctl"}},
		NotBefore:             now.Add(-time.Hour), // hosts' clocks may lag a little
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // it signs node certificates, never another CA
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	return caFromDER(der, key)
}

func caFromDER(der []byte, key *ecdsa.PrivateKey) (*CA, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Key: key, KeyPEM: keyPEM}, nil
}

// ParseCA reads a CA certificate and its key (PEM), checking that they
// belong together.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, errors.New("the certificate is not a CA certificate")
	}
	signer, err := parseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	if !keyMatches(signer, cert) {
		return nil, errors.New("the key does not belong to the CA certificate")
	}
	key, ok := signer.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the CA key is a %T, dcctl's CA keys are ECDSA", signer)
	}
	return &CA{Cert: cert, CertPEM: certPEM, Key: key, KeyPEM: keyPEM}, nil
}

func newSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial number: %w", err)
	}
	return s, nil
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseCert reads the first certificate of a PEM file.
func parseCert(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM certificate found")
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse certificate: %w", err)
			}
			return c, nil
		}
	}
}

// parseKey reads a private key (PKCS #8, SEC 1 or PKCS #1); its message
// never quotes the file.
func parseKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM private key found")
		}
		var k any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("the %s does not parse", strings.ToLower(b.Type))
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("the private key is a %T, which cannot sign", k)
		}
		return s, nil
	}
}

// keyMatches reports whether key is the private half of cert's public key.
func keyMatches(key crypto.Signer, cert *x509.Certificate) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// Fingerprint is a certificate's SHA-256 fingerprint as openssl prints it
// (AB:CD:...), what plans show instead of the certificate.
func Fingerprint(certPEM []byte) string {
	c, err := parseCert(certPEM)
	if err != nil {
		return "(not a certificate)"
	}
	return CertFingerprint(c)
}

// CertFingerprint is Fingerprint of a parsed certificate.
func CertFingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// Expiry returns the end of a PEM certificate's validity.
func Expiry(certPEM []byte) (time.Time, error) {
	c, err := parseCert(certPEM)
	if err != nil {
		return time.Time{}, err
	}
	return c.NotAfter, nil
}

// Includes reports whether every certificate in sub (PEM) is also in set:
// a CA file that only gains CAs.
func Includes(set, sub []byte) bool {
	have := map[string]bool{}
	for _, c := range certsOf(set) {
		have[string(c.Raw)] = true
	}
	for _, c := range certsOf(sub) {
		if !have[string(c.Raw)] {
			return false
		}
	}
	return true
}

// certsOf parses every certificate of a PEM file, skipping what does not
// parse.
func certsOf(data []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			out = append(out, c)
		}
	}
}
