package pki

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// prepared is the TLS directory as a first provision leaves it.
func prepared(t *testing.T) (*Material, func() *Material) {
	t.Helper()
	inv := loadInv(t, twoNodes)
	m, err := Prepare(inv, time.Now())
	if err == nil {
		err = m.Save()
	}
	if err != nil {
		t.Fatal(err)
	}
	return m, func() *Material {
		t.Helper()
		m, err := Load(inv)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
}

// TestRolloverStages: what the servers trust at each stage of a move to a
// new CA, read back from the files as provision reads them; the bundle
// reads the same while both are trusted, whichever issues; provision
// reissues nothing while the old CA issues and everything once the new one
// does; at the end the old CA's files are in retired/, not gone.
func TestRolloverStages(t *testing.T) {
	m, load := prepared(t)
	inv := loadInv(t, twoNodes)
	inv.File = filepath.Join(filepath.Dir(m.Dir()), "deploy.toml")
	old := m.CA
	if err := m.BeginRollover(inv, time.Now()); err != nil {
		t.Fatal(err)
	}
	m = load()
	if st, _ := m.Stage(); st != StageTrustBoth || !m.CA.Cert.Equal(old.Cert) || m.Next == nil {
		t.Fatalf("trust-both: stage %q, the old CA issues %v, new CA %v", st, m.CA.Cert.Equal(old.Cert), m.Next != nil)
	}
	both := m.Trust()
	if strings.Count(string(both), "BEGIN CERTIFICATE") != 2 {
		t.Fatalf("trust-both: %d CAs trusted", strings.Count(string(both), "BEGIN CERTIFICATE"))
	}
	if b, _ := os.ReadFile(BundlePath(inv.File)); !bytes.Equal(b, both) {
		t.Error("the bundle is not what the servers trust")
	}
	if TrustedCA(inv) != BundlePath(inv.File) {
		t.Errorf("clients are pointed at %s, want the bundle", TrustedCA(inv))
	}
	if p, err := Prepare(inv, time.Now()); err != nil || len(p.Issued()) != 0 {
		t.Errorf("provision at trust-both reissues %v (%v)", p.Issued(), err)
	}
	next := m.Next

	if err := m.Promote(); err != nil {
		t.Fatal(err)
	}
	m = load()
	if st, _ := m.Stage(); st != StageNewCAIssues || !m.CA.Cert.Equal(next.Cert) || !m.Previous.Cert.Equal(old.Cert) {
		t.Fatalf("new-ca-issues: stage %q, new CA issues %v, old kept %v", st, m.CA.Cert.Equal(next.Cert), m.Previous != nil)
	}
	if !bytes.Equal(m.Trust(), both) {
		t.Error("the trusted set reads otherwise once the new CA issues: every node's CA file would change")
	}
	if p, err := Prepare(inv, time.Now()); err != nil || len(p.Issued()) != 2 {
		t.Errorf("provision at new-ca-issues reissues %v (%v), want every node", p.Issued(), err)
	}
	for _, n := range inv.Nodes {
		if issued, err := m.ReissueUnderCA(n, time.Now()); err != nil || !issued {
			t.Fatalf("reissue %s: %v %v", n.Name, issued, err)
		}
		if !m.FromCA(n.Name, time.Now()) {
			t.Errorf("%s: its new certificate is not from the new CA", n.Name)
		}
		if again, _ := m.ReissueUnderCA(n, time.Now()); again {
			t.Errorf("%s: issued again", n.Name)
		}
	}
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}

	if err := m.DropOld(); err != nil {
		t.Fatal(err)
	}
	m = load()
	if st, _ := m.Stage(); st != StageDropOld || !bytes.Equal(m.Trust(), next.CertPEM) {
		t.Fatalf("drop-old: stage %q, trusts the new CA alone %v", st, bytes.Equal(m.Trust(), next.CertPEM))
	}
	moved, err := m.Retire()
	if err != nil {
		t.Fatal(err)
	}
	m = load()
	if _, under := m.Stage(); under || m.Previous != nil || !m.CA.Cert.Equal(next.Cert) {
		t.Fatalf("after: rotation under way %v, old CA loaded %v", under, m.Previous != nil)
	}
	if len(moved) != 2 {
		t.Fatalf("retired %v", moved)
	}
	for _, f := range moved {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("retired file: %v", err)
		}
	}
	if got, _ := ParseCA(mustRead(t, moved[0]), mustRead(t, moved[1])); got == nil || !got.Cert.Equal(old.Cert) {
		t.Error("the retired files are not the old CA's certificate and key")
	}
	if b, _ := os.ReadFile(BundlePath(inv.File)); !bytes.Equal(b, next.CertPEM) {
		t.Error("the bundle after the move is not the new CA alone")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestPromoteInterrupted: a promotion cut short after rotation.json said
// new-ca-issues, with ca.pem and ca-key.pem no longer a pair, still loads
// (the new CA from ca-next.pem), and the next Promote completes it.
func TestPromoteInterrupted(t *testing.T) {
	m, load := prepared(t)
	inv := loadInv(t, twoNodes)
	inv.File = filepath.Join(filepath.Dir(m.Dir()), "deploy.toml")
	if err := m.BeginRollover(inv, time.Now()); err != nil {
		t.Fatal(err)
	}
	old, next := m.CA, m.Next
	// what Promote writes first, then a half: the new key beside the old certificate
	writeFile(filepath.Join(m.dir, PreviousCAKeyFile), old.KeyPEM, 0o600)
	writeFile(filepath.Join(m.dir, PreviousCAFile), old.CertPEM, 0o644)
	writeRotation(m.dir, &Rotation{Started: time.Now().UTC().Truncate(time.Second), Stage: StageNewCAIssues})
	writeFile(filepath.Join(m.dir, CAKeyFile), next.KeyPEM, 0o600)

	m = load()
	if !m.CA.Cert.Equal(next.Cert) || !m.Previous.Cert.Equal(old.Cert) || m.Promoted() {
		t.Fatalf("interrupted promotion read as: new CA issues %v, old kept %v, promoted %v", m.CA.Cert.Equal(next.Cert), m.Previous != nil, m.Promoted())
	}
	if err := m.Promote(); err != nil {
		t.Fatal(err)
	}
	m = load()
	if !m.CA.Cert.Equal(next.Cert) || !m.Promoted() {
		t.Fatal("the promotion was not completed")
	}
	if _, err := os.Stat(filepath.Join(m.dir, NextCAFile)); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", NextCAFile, err)
	}
}
