package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"slices"
	"sort"
	"time"

	"github.com/dcctl/dcctl/inventory"
)

// Names are what a node's certificate must cover: its server name and every
// address it is reached on, so that clients and peers that verify the name
// they dialled (an IP address or a DNS name) accept it.
type Names struct {
	DNS []string // sorted, unique
	IPs []string // sorted, unique, in net.IP.String form
}

// NamesFor lists node's names: its server name, its host and its listen
// address (unless that is a wildcard).
func NamesFor(n *inventory.Node) Names {
	var nm Names
	add := func(s string) {
		if s == "" {
			return
		}
		if ip := net.ParseIP(s); ip != nil {
			if ip.IsUnspecified() {
				return
			}
			if !slices.Contains(nm.IPs, ip.String()) {
				nm.IPs = append(nm.IPs, ip.String())
			}
			return
		}
		if !slices.Contains(nm.DNS, s) {
			nm.DNS = append(nm.DNS, s)
		}
	}
	add(n.Name)
	add(n.Host)
	add(n.Listen)
	sort.Strings(nm.DNS)
	sort.Strings(nm.IPs)
	return nm
}

// namesOf reads the names a certificate covers, in Names' form.
func namesOf(c *x509.Certificate) Names {
	var nm Names
	nm.DNS = append(nm.DNS, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		nm.IPs = append(nm.IPs, ip.String())
	}
	sort.Strings(nm.DNS)
	sort.Strings(nm.IPs)
	return nm
}

// covers reports whether c names everything in want.
func (want Names) coveredBy(c *x509.Certificate) bool {
	have := namesOf(c)
	for _, d := range want.DNS {
		if !slices.Contains(have.DNS, d) {
			return false
		}
	}
	for _, ip := range want.IPs {
		if !slices.Contains(have.IPs, ip) {
			return false
		}
	}
	return true
}

// NodeCert is a node's certificate and private key.
type NodeCert struct {
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte
}

// Issue creates a key and a certificate for a node named server, covering
// names, signed by ca. The certificate serves both ends of a connection:
// the node's listeners (server auth) and its outgoing routes and leafnode
// links, where the other side verifies it (client auth).
func (ca *CA) Issue(server string, names Names, now time.Time) (*NodeCert, error) {
	if ca.Key == nil {
		return nil, fmt.Errorf("issue a certificate for %s: the CA's key is not at hand", server)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("create key for %s: %w", server, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: server, Organization: []string{"dcctl"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(NodeLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     names.DNS,
	}
	for _, s := range names.IPs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(s))
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue a certificate for %s: %w", server, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse the certificate of %s: %w", server, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &NodeCert{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: keyPEM}, nil
}

// ParseNodeCert reads a node's certificate and key, checking that they
// belong together.
func ParseNodeCert(certPEM, keyPEM []byte) (*NodeCert, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	if !keyMatches(key, cert) {
		return nil, fmt.Errorf("the key does not belong to the certificate of %s", cert.Subject.CommonName)
	}
	return &NodeCert{Cert: cert, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// Reissue says why a node's certificate must be issued again, or "" when
// it is still good: missing, not from ca, missing one of names, or within
// RenewBefore of its end.
func Reissue(nc *NodeCert, ca *CA, names Names, now time.Time) string {
	if nc == nil {
		return "no certificate yet"
	}
	if err := verify(nc.Cert, ca.Cert, now); err != nil {
		return "not valid under the CA: " + err.Error()
	}
	if !names.coveredBy(nc.Cert) {
		return fmt.Sprintf("names changed (covers %v, needs %v)", namesOf(nc.Cert), names)
	}
	if left := nc.Cert.NotAfter.Sub(now); left < RenewBefore {
		return fmt.Sprintf("expires %s (within %d days)", nc.Cert.NotAfter.UTC().Format(time.DateOnly), int(RenewBefore.Hours()/24))
	}
	return ""
}

// verify checks that cert chains to ca at now, for both uses dcctl puts
// it to.
func verify(cert, ca *x509.Certificate, now time.Time) error {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}})
	return err
}
