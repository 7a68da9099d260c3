package pki

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/inventory"
)

// operatorInv writes an inventory with the operator's CA and certificate
// paths, nodes n-ok, n-names, n-soon, n-ended, n-other, n-open and n-none.
func operatorInv(t *testing.T) (*inventory.Inventory, string) {
	t.Helper()
	var nodes strings.Builder
	for i, n := range []string{"n-ok", "n-names", "n-soon", "n-ended", "n-other", "n-open", "n-none"} {
		nodes.WriteString("[nodes." + n + "]\ncluster = \"CORE\"\ndc = \"x\"\nhost = \"192.0.2." + string(rune('1'+i)) + "\"\n")
	}
	inv := loadInv(t, nodes.String())
	text, _ := os.ReadFile(inv.File)
	text = append(text, []byte("\n[tls]\nca_file = \"pki/ca.pem\"\ncert_file = \"pki/{node}.pem\"\nkey_file = \"pki/{node}.key\"\n")...)
	os.WriteFile(inv.File, text, 0o644)
	inv, err := inventory.Load(inv.File)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(inv.Dir, "pki")
	os.MkdirAll(dir, 0o700)
	return inv, dir
}

// TestCheckOperatorCertificates: each way an operator's certificate can be
// wrong is a problem naming the node and the key to fix, one that ends
// within 30 days a warning, a good one neither; and Load hands the good
// ones to rendering without creating anything.
func TestCheckOperatorCertificates(t *testing.T) {
	inv, dir := operatorInv(t)
	now := time.Now()
	ca, err := NewCA("operator", now.Add(-400*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewCA("another", now)
	os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM, 0o644)
	write := func(node string, nc *NodeCert, keyMode os.FileMode) {
		os.WriteFile(filepath.Join(dir, node+".pem"), nc.CertPEM, 0o644)
		os.WriteFile(filepath.Join(dir, node+".key"), nc.KeyPEM, keyMode)
	}
	issue := func(c *CA, n string, names Names, at time.Time) *NodeCert {
		nc, err := c.Issue(n, names, at)
		if err != nil {
			t.Fatal(err)
		}
		return nc
	}
	for _, n := range inv.Nodes {
		names := NamesFor(n)
		switch n.Name {
		case "n-ok":
			write(n.Name, issue(ca, n.Name, names, now), 0o600)
		case "n-names":
			write(n.Name, issue(ca, n.Name, Names{DNS: []string{n.Name}}, now), 0o600)
		case "n-soon":
			write(n.Name, issue(ca, n.Name, names, now.Add(-NodeLifetime+10*24*time.Hour)), 0o600)
		case "n-ended":
			write(n.Name, issue(ca, n.Name, names, now.Add(-NodeLifetime-24*time.Hour)), 0o600)
		case "n-other":
			write(n.Name, issue(other, n.Name, names, now), 0o600)
		case "n-open":
			write(n.Name, issue(ca, n.Name, names, now), 0o644)
		}
	}
	probs, warns := Check(inv, now)
	want := map[string]string{
		"n-names": "must name", "n-ended": "ended", "n-other": "does not chain", "n-open": "chmod 600", "n-none": "no such file",
	}
	for node, text := range want {
		found := false
		for _, p := range probs {
			if strings.Contains(p.Msg, "node "+node+":") && strings.Contains(p.Msg, text) && strings.HasPrefix(p.Key, "tls.") {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem for %s saying %q in:\n%v", node, text, probs)
		}
	}
	if len(probs) != len(want) {
		t.Errorf("%d problems, want %d: %v", len(probs), len(want), probs)
	}
	if len(warns) != 1 || !strings.Contains(warns[0].Msg, "node n-soon:") || !strings.Contains(warns[0].Msg, "in 9 days") && !strings.Contains(warns[0].Msg, "in 10 days") {
		t.Errorf("warnings %v, want one for n-soon", warns)
	}
	m, err := Prepare(inv, now)
	if err != nil {
		t.Fatal(err)
	}
	if m.CreatedCA() || len(m.Issued()) != 0 || m.nodes["n-ok"] == nil {
		t.Errorf("operator's CA: created %v, issued %v, n-ok loaded %v", m.CreatedCA(), m.Issued(), m.nodes["n-ok"] != nil)
	}
	if _, err := os.Stat(Dir(inv.File)); !os.IsNotExist(err) {
		t.Errorf("a TLS directory was created beside an inventory with its own CA: %v", err)
	}
	if got := TrustedCA(inv); got != filepath.Join(dir, "ca.pem") {
		t.Errorf("trusted CA %s", got)
	}
}

// TestOperatorTLSKeysTogether: the three paths come together, and the
// per-node ones name the node.
func TestOperatorTLSKeysTogether(t *testing.T) {
	for _, tc := range []struct{ tls, want string }{
		{"ca_file = \"ca.pem\"\n", "give ca_file, cert_file and key_file together"},
		{"ca_file = \"ca.pem\"\ncert_file = \"all.pem\"\nkey_file = \"k/{node}.pem\"\n", "must contain {node}"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "nats-server"), nil, 0o600)
		text := "[nats]\nbinary = \"nats-server\"\n[tls]\n" + tc.tls + "[accounts.A]\njetstream = true\nusers = [\"u\"]\n[accounts.S]\nsystem = true\nusers = [\"s\"]\n[clusters.C]\ndomain = \"d\"\n[nodes.a]\ncluster = \"C\"\ndc = \"x\"\nhost = \"192.0.2.1\"\n"
		_, err := inventory.Parse(filepath.Join(dir, "i.toml"), []byte(text))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "tls") {
			t.Errorf("%q: %v, want %q", tc.tls, err, tc.want)
		}
	}
}
