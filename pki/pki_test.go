package pki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/inventory"
)

func loadInv(t *testing.T, nodes string) *inventory.Inventory {
	t.Helper()
	dir := t.TempDir()
	text := `[nats]
binary = "nats-server"
[accounts.APP]
jetstream = true
users = ["u"]
[accounts.OPS]
system = true
users = ["o"]
[clusters.CORE]
domain = "d"
` + nodes
	for _, f := range []string{"nats-server"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o600)
	}
	path := filepath.Join(dir, "deploy.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

const twoNodes = `[nodes.core-a]
cluster = "CORE"
dc = "x"
host = "192.0.2.10"
listen = "0.0.0.0"
[nodes.core-b]
cluster = "CORE"
dc = "x"
host = "core-b.example.net"
listen = "198.51.100.7"
`

// TestIssuedCertificates: each node's certificate names its server name and
// every address it is reached on, serves both ends of a TLS connection,
// chains to the CA (and to no other), and the CA can sign nothing but
// leaf certificates.
func TestIssuedCertificates(t *testing.T) {
	inv := loadInv(t, twoNodes)
	now := time.Now()
	m, err := Prepare(inv, now)
	if err != nil {
		t.Fatal(err)
	}
	ca := m.CA.Cert
	if !ca.IsCA || !ca.MaxPathLenZero || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA: IsCA %v, MaxPathLenZero %v, key usage %v", ca.IsCA, ca.MaxPathLenZero, ca.KeyUsage)
	}
	if ca.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("CA key is %v, want ECDSA", ca.PublicKeyAlgorithm)
	}
	other, err := NewCA("other", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		node    string
		dns     []string
		ips     []string
		dialled []string
	}{
		{"core-a", []string{"core-a"}, []string{"192.0.2.10"}, []string{"core-a", "192.0.2.10"}},
		{"core-b", []string{"core-b", "core-b.example.net"}, []string{"198.51.100.7"}, []string{"core-b", "core-b.example.net", "198.51.100.7"}},
	} {
		nc := m.nodes[tc.node]
		c := nc.Cert
		if strings.Join(c.DNSNames, ",") != strings.Join(tc.dns, ",") {
			t.Errorf("%s: DNS names %v, want %v", tc.node, c.DNSNames, tc.dns)
		}
		var ips []string
		for _, ip := range c.IPAddresses {
			ips = append(ips, ip.String())
		}
		if strings.Join(ips, ",") != strings.Join(tc.ips, ",") {
			t.Errorf("%s: IP addresses %v, want %v (a wildcard listen address is no name)", tc.node, ips, tc.ips)
		}
		if c.IsCA || c.KeyUsage != x509.KeyUsageDigitalSignature {
			t.Errorf("%s: IsCA %v, key usage %v", tc.node, c.IsCA, c.KeyUsage)
		}
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		for _, name := range tc.dialled {
			for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
				if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
					t.Errorf("%s dialled as %s, usage %v: %v", tc.node, name, usage, err)
				}
			}
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: "somebody-else"}); err == nil {
			t.Errorf("%s verified for a name it does not have", tc.node)
		}
		otherPool := x509.NewCertPool()
		otherPool.AddCert(other.Cert)
		if _, err := c.Verify(x509.VerifyOptions{Roots: otherPool}); err == nil {
			t.Errorf("%s verified under another CA", tc.node)
		}
		if c.NotAfter.Sub(now) < NodeLifetime-2*time.Hour {
			t.Errorf("%s ends %v", tc.node, c.NotAfter)
		}
		if _, err := ParseNodeCert(nc.CertPEM, nc.KeyPEM); err != nil {
			t.Errorf("%s: key and certificate: %v", tc.node, err)
		}
	}
	// A certificate the CA signs can sign nothing: MaxPathLenZero.
	leaf := m.nodes["core-a"]
	if leaf.Cert.BasicConstraintsValid && leaf.Cert.IsCA {
		t.Error("a node certificate is a CA")
	}
}

// TestPrepareIssuesOnlyWhatIsNeeded: a second Prepare after Save changes
// nothing; a node whose address changed, one whose certificate is near its
// end, and one whose files are gone get a new one; the others keep theirs.
func TestPrepareIssuesOnlyWhatIsNeeded(t *testing.T) {
	inv := loadInv(t, twoNodes)
	now := time.Now()
	m, err := Prepare(inv, now)
	if err != nil {
		t.Fatal(err)
	}
	if !m.CreatedCA() || len(m.Issued()) != 2 {
		t.Fatalf("first: created CA %v, issued %v", m.CreatedCA(), m.Issued())
	}
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	dir := Dir(inv.File)
	for _, f := range []string{CAKeyFile, "core-a-key.pem", "core-b-key.pem"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, st.Mode(), err)
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("TLS directory mode %v", st.Mode())
	}
	again, err := Prepare(inv, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if again.CreatedCA() || len(again.Issued()) != 0 {
		t.Fatalf("second run: created CA %v, issued %v, want nothing", again.CreatedCA(), again.Issued())
	}
	first := string(again.nodes["core-a"].CertPEM)

	// Within the renewal window: both again; core-b's host moved as well.
	moved := loadInv(t, strings.Replace(twoNodes, "198.51.100.7", "198.51.100.8", 1))
	moved.File = inv.File
	late, err := Prepare(moved, now.Add(NodeLifetime-RenewBefore+time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(late.Issued(), "\n"); !strings.Contains(got, "core-a: expires") || !strings.Contains(got, "core-b: names changed") {
		t.Errorf("issued:\n%s", got)
	}
	// A lost key: issued again, the other kept.
	os.Remove(filepath.Join(dir, "core-b-key.pem"))
	lost, err := Prepare(inv, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := lost.Issued(); len(got) != 1 || !strings.HasPrefix(got[0], "core-b:") || string(lost.nodes["core-a"].CertPEM) != first {
		t.Errorf("after losing core-b's key: issued %v", got)
	}
}

// TestLoadRefusesOpenKeys: a key others can read is refused, as the
// secrets file is; a CA certificate without its key says what to do.
func TestLoadRefusesOpenKeys(t *testing.T) {
	inv := loadInv(t, twoNodes)
	m, err := Prepare(inv, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(Dir(inv.File), CAKeyFile)
	os.Chmod(key, 0o640)
	if _, err := Load(inv); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("group-readable CA key: %v", err)
	}
	os.Remove(key)
	if _, err := Load(inv); err == nil || !strings.Contains(err.Error(), "restore") {
		t.Errorf("CA without key: %v", err)
	}
}

// TestTLSOff: with [tls] enabled = false nothing is read or created.
func TestTLSOff(t *testing.T) {
	inv := loadInv(t, twoNodes)
	inv.TLS.Enabled = false
	m, err := Prepare(inv, time.Now())
	if err != nil || m.CA != nil || m.CreatedCA() {
		t.Fatalf("TLS off: %v %v", m.CA, err)
	}
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(Dir(inv.File)); !os.IsNotExist(err) {
		t.Errorf("TLS directory created with TLS off: %v", err)
	}
}
