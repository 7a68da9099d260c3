package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/dcctl/dcctl/inventory"
)

// TrustedCA is the CA file clients verify the servers with: the operator's
// (tls.ca_file), or the one dcctl keeps beside the inventory: the bundle
// once a move to a new CA has begun (it holds every CA the servers trust),
// else the CA's certificate.
func TrustedCA(inv *inventory.Inventory) string {
	if inv.TLS.OperatorCA() {
		return inv.TLS.CAFile
	}
	if b := BundlePath(inv.File); fileExists(b) {
		return b
	}
	return CAPath(inv.File)
}

// loadOperator reads the operator's CA (a file of one or more
// certificates) and each node's certificate and key that exist; Check
// says what is wrong with them.
func loadOperator(inv *inventory.Inventory) (*Material, error) {
	m := &Material{nodes: map[string]*NodeCert{}, issued: map[string]string{}, operator: true}
	caPEM, err := os.ReadFile(inv.TLS.CAFile)
	if err != nil {
		return nil, fmt.Errorf("tls.ca_file: %w", err)
	}
	ca, err := parseCert(caPEM)
	if err != nil {
		return nil, fmt.Errorf("tls.ca_file %s: %w", inv.TLS.CAFile, err)
	}
	m.CA = &CA{Cert: ca, CertPEM: caPEM}
	for _, n := range inv.Nodes {
		cp, kp := inv.TLS.NodeFiles(n.Name)
		c, err1 := os.ReadFile(cp)
		k, err2 := readPrivate(kp, true)
		if err1 != nil || err2 != nil {
			continue // Check names what is missing
		}
		if nc, err := ParseNodeCert(c, k); err == nil {
			m.nodes[n.Name] = nc
		}
	}
	return m, nil
}

// Check judges the operator's CA and certificates (tls.ca_file,
// tls.cert_file, tls.key_file) at now, without connecting anywhere: every
// node's certificate must chain to the CA (intermediates may follow it in
// its file), serve both ends of a connection (routes and leafnode links
// are mutual), cover the node's server name and addresses, and not have
// ended (a problem) nor end within 30 days (a warning); its key must match
// it and be readable by nobody else. Nothing to check when dcctl keeps the
// CA itself.
func Check(inv *inventory.Inventory, now time.Time) ([]inventory.Problem, []inventory.Warning) {
	if !inv.TLS.OperatorCA() {
		return nil, nil
	}
	var probs []inventory.Problem
	var warns []inventory.Warning
	bad := func(key, format string, a ...any) { probs = append(probs, inv.Problemf(key, format, a...)) }
	caPEM, err := os.ReadFile(inv.TLS.CAFile)
	if err != nil {
		bad("tls.ca_file", "%v", err)
		return probs, warns
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		bad("tls.ca_file", "%s holds no PEM certificate", inv.TLS.CAFile)
		return probs, warns
	}
	for _, n := range inv.Nodes {
		cp, kp := inv.TLS.NodeFiles(n.Name)
		certPEM, err := os.ReadFile(cp)
		if err != nil {
			bad("tls.cert_file", "node %s: %v", n.Name, err)
			continue
		}
		keyPEM, err := readPrivate(kp, true)
		if errors.Is(err, fs.ErrNotExist) {
			bad("tls.key_file", "node %s: %s does not exist", n.Name, kp)
			continue
		}
		if err != nil {
			bad("tls.key_file", "node %s: %v", n.Name, err)
			continue
		}
		nc, err := ParseNodeCert(certPEM, keyPEM)
		if err != nil {
			bad("tls.cert_file", "node %s (%s, %s): %v", n.Name, cp, kp, err)
			continue
		}
		inter := x509.NewCertPool()
		inter.AppendCertsFromPEM(certPEM) // the chain after the node's own certificate, if any
		c := nc.Cert
		end := c.NotAfter.UTC().Format(time.DateOnly)
		if now.After(c.NotAfter) {
			bad("tls.cert_file", "node %s: %s ended %s: issue a new one", n.Name, cp, end)
			continue
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			bad("tls.cert_file", "node %s: %s does not chain to tls.ca_file %s: %v", n.Name, cp, inv.TLS.CAFile, err)
			continue
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			bad("tls.cert_file", "node %s: %s is not good for client authentication, which its routes and leafnode links need (both ends show a certificate): %v", n.Name, cp, err)
			continue
		}
		if want := NamesFor(n); !want.coveredBy(c) {
			bad("tls.cert_file", "node %s: %s names %v, it must name %v (the server name, host and listen address)", n.Name, cp, namesOf(c), want)
			continue
		}
		if left := c.NotAfter.Sub(now); left < RenewBefore {
			warns = append(warns, inv.Warningf("tls.cert_file", "node %s: %s ends %s (in %d days): issue a new one and run provision", n.Name, cp, end, int(left.Hours()/24)))
		}
	}
	return probs, warns
}
