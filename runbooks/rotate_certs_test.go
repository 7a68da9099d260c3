package runbooks

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/templates"
)

// installHosts is processHosts whose Provision installs the node's files
// as they render now and applies them as provision would: a reload, or a
// restart for a leaf node (its leafnode remotes take new TLS files only
// then); Drift names the files that differ.
type installHosts struct{ *processHosts }

func (h installHosts) Drift(_ context.Context, node string) ([]string, error) {
	names, err := h.c.Drift(node)
	var out []string
	for _, n := range names {
		out = append(out, "update "+path.Join(h.c.Inv.NATS.ConfigDir, n))
	}
	return out, err
}

func (h installHosts) Provision(_ context.Context, node string) error {
	caFile := filepath.Join(h.c.NodeDir(node), templates.TLSCAName)
	oldCA, _ := os.ReadFile(caFile)
	changed, err := h.c.Install(node)
	if err != nil || len(changed) == 0 {
		return err
	}
	if h.c.Server(node) == nil {
		return nil // a standby node: installed, not started
	}
	newCA, _ := os.ReadFile(caFile)
	onlyAddsCA := !slices.Contains(changed, templates.TLSCertName) && !slices.Contains(changed, templates.TLSKeyName) && pki.Includes(newCA, oldCA)
	if len(h.c.Inv.LeafRemotes(h.c.Inv.Node(node))) > 0 && !onlyAddsCA {
		return h.UnitCtl(context.Background(), node, "restart")
	}
	h.record("reload " + node)
	return h.c.Reload(node)
}

// certSpec is a 3-node backbone with a standby node and a 2-node leaf
// cluster.
func certSpec() testcluster.Spec {
	return testcluster.Spec{AppAccount: "SHOP", AppUser: "shop-app", SysAccount: "ADMIN", SysUser: "root-ops",
		Clusters: []testcluster.ClusterSpec{
			{Name: "SPINE", Domain: "spine", Nodes: []testcluster.NodeSpec{{Name: "sp-1", DC: "a"}, {Name: "sp-2", DC: "a"}, {Name: "sp-3", DC: "b"}, {Name: "sp-4", DC: "b", Standby: true}}},
			{Name: "BRANCH", Domain: "branch", LeafOf: "SPINE", Nodes: []testcluster.NodeSpec{{Name: "tw-1", DC: "b"}, {Name: "tw-2", DC: "b"}}}}}
}

// TestRotateCerts: every node ends up showing a certificate it did not
// have, the one the TLS directory holds for it, on every listener; backbone
// nodes reloaded, leaf nodes restarted; the stream lost nothing. A run
// interrupted after the new certificates were saved continues with them
// instead of issuing others.
func TestRotateCerts(t *testing.T) {
	l := newLab(t, certSpec())
	// provision installs a standby node's files without starting it
	if _, err := l.c.Install("sp-4"); err != nil {
		t.Fatal(err)
	}
	hosts := installHosts{l.hosts}
	withHosts := func(e *Env) { e.Hosts = hosts }
	l.stream("spine", njs.StreamConfig{Name: "LEDGER", Subjects: []string{"ledger.>"}, Replicas: 3}, 40)

	shown := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		for name, certs := range presentedCerts(t, l) {
			var fps []string
			for _, c := range certs {
				fps = append(fps, pki.CertFingerprint(c))
			}
			slices.Sort(fps)
			if fps = slices.Compact(fps); len(fps) != 1 {
				t.Fatalf("%s shows different certificates on its listeners: %v", name, fps)
			}
			out[name] = fps[0]
		}
		return out
	}
	inDir := func() map[string]string {
		t.Helper()
		m, err := pki.Load(l.c.Inv)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, n := range l.c.Inv.Nodes {
			out[n.Name] = pki.Fingerprint(m.Cert(n.Name).CertPEM)
		}
		return out
	}
	check := func(before map[string]string) map[string]string {
		t.Helper()
		after := shown()
		want := inDir()
		for n, fp := range after {
			if fp == before[n] {
				t.Errorf("%s still shows its certificate from before the rotation", n)
			}
			if fp != want[n] {
				t.Errorf("%s shows %s, the TLS directory holds %s", n, fp, want[n])
			}
		}
		m, _ := pki.Load(l.c.Inv)
		if rot, err := m.Rotation(); rot != nil || err != nil {
			t.Errorf("rotation still recorded after the run: %v %v", rot, err)
		}
		info, err := l.info("spine", "LEDGER")
		if err != nil || info.State.Msgs != 40 {
			t.Errorf("LEDGER after the rotation: %v, %v; want 40 messages", info, err)
		}
		return after
	}

	before := shown()
	if err := l.run(&RotateCerts{}, withHosts); err != nil {
		t.Fatal(err)
	}
	after := check(before)
	calls := strings.Join(l.hosts.Calls(), ", ")
	for _, n := range l.c.Inv.Nodes {
		want := "reload " + n.Name
		switch {
		case n.Standby:
			if d, _ := l.c.Drift(n.Name); len(d) > 0 || strings.Contains(calls, n.Name) {
				t.Errorf("standby node %s: files not installed %v, or started (calls %s)", n.Name, d, calls)
			}
			continue
		case len(l.c.Inv.LeafRemotes(n)) > 0:
			want = "restart " + n.Name
		}
		if !strings.Contains(calls, want) {
			t.Errorf("calls %s: no %q", calls, want)
		}
	}
	if strings.Contains(calls, "restart sp-") {
		t.Errorf("a backbone node restarted: %s", calls)
	}

	// Interrupted: the certificates were saved and one node got its own;
	// the run again continues with the saved ones.
	m, err := pki.Load(l.c.Inv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.BeginRotation(time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, n := range l.c.Inv.Nodes {
		if err := m.Renew(n, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	m.Apply(l.c.Secrets)
	if err := hosts.Provision(context.Background(), "sp-2"); err != nil {
		t.Fatal(err)
	}
	saved := inDir()
	if err := l.run(&RotateCerts{}, withHosts); err != nil {
		t.Fatal(err)
	}
	check(after)
	if got := inDir(); fmt.Sprint(got) != fmt.Sprint(saved) {
		t.Errorf("the continued run issued other certificates:\n got %v\nwant %v", got, saved)
	}
}

// TestRotateCertsNewCA: --new-ca leaves every server showing its old
// certificate and trusting both CAs; --finish ends with every node showing
// a certificate from the new CA on every listener, a client trusting only
// the old CA refused, the old CA's files retired (not deleted), the bundle
// the new CA alone, and nothing left to install. Either step run again is
// refused, saying what to do.
func TestRotateCertsNewCA(t *testing.T) {
	l := newLab(t, certSpec())
	// provision installs a standby node's files without starting it
	if _, err := l.c.Install("sp-4"); err != nil {
		t.Fatal(err)
	}
	hosts := installHosts{l.hosts}
	withHosts := func(e *Env) { e.Hosts = hosts }
	l.stream("spine", njs.StreamConfig{Name: "LEDGER", Subjects: []string{"ledger.>"}, Replicas: 3}, 40)
	old, err := pki.Load(l.c.Inv)
	if err != nil {
		t.Fatal(err)
	}
	oldCA := old.CA.Cert
	issuers := func(trust []byte) map[string]string {
		t.Helper()
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(trust)
		out := map[string]string{}
		for name, certs := range presentedCerts(t, l) {
			for what, c := range certs {
				if _, err := c.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
					out[name+" "+what] = "untrusted: " + err.Error()
					continue
				}
				out[name+" "+what] = string(c.AuthorityKeyId)
			}
		}
		return out
	}

	if err := l.run(&RotateCerts{NewCA: true}, withHosts); err != nil {
		t.Fatal(err)
	}
	m, err := pki.Load(l.c.Inv)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := m.Stage(); st != pki.StageTrustBoth || m.Next == nil {
		t.Fatalf("after --new-ca: stage %q, new CA %v", st, m.Next != nil)
	}
	for where, by := range issuers(m.Trust()) {
		if by != string(oldCA.SubjectKeyId) {
			t.Errorf("after --new-ca %s shows a certificate not from the old CA (%q)", where, by)
		}
	}
	for _, n := range l.c.Inv.Nodes {
		if d, _ := l.c.Drift(n.Name); len(d) > 0 {
			t.Errorf("after --new-ca %s has not installed %v", n.Name, d)
		}
	}
	if calls := strings.Join(l.hosts.Calls(), ", "); strings.Contains(calls, "restart") {
		t.Errorf("--new-ca restarted nodes (%s): adding a CA to the trust is a reload", calls)
	}
	wantRefused(t, l.run(&RotateCerts{NewCA: true}, withHosts), "rotate-certs --finish")
	wantRefused(t, l.run(&RotateCerts{}, withHosts), "rotate-certs --finish")

	if err := l.run(&RotateCerts{Finish: true}, withHosts); err != nil {
		t.Fatal(err)
	}
	m, err = pki.Load(l.c.Inv)
	if err != nil {
		t.Fatal(err)
	}
	if _, under := m.Stage(); under || m.Previous != nil || m.CA.Cert.Equal(oldCA) {
		t.Fatalf("after --finish: rotation under way %v, old CA still loaded %v, CA unchanged %v", under, m.Previous != nil, m.CA.Cert.Equal(oldCA))
	}
	for where, by := range issuers(m.CA.CertPEM) {
		if by != string(m.CA.Cert.SubjectKeyId) {
			t.Errorf("after --finish %s shows a certificate not from the new CA (%q)", where, by)
		}
	}
	for where, by := range issuers(old.CA.CertPEM) {
		if !strings.HasPrefix(by, "untrusted") {
			t.Errorf("after --finish a client trusting only the old CA accepts %s", where)
		}
	}
	retired, _ := filepath.Glob(filepath.Join(m.Dir(), pki.RetiredDir, "ca-*.pem"))
	if len(retired) != 2 {
		t.Errorf("retired files %v, want the old CA's certificate and key", retired)
	}
	if b, err := os.ReadFile(pki.BundlePath(l.c.Inv.File)); err != nil || string(b) != string(m.Trust()) || strings.Count(string(b), "BEGIN CERTIFICATE") != 1 {
		t.Errorf("bundle after --finish: %v, %d certificates", err, strings.Count(string(b), "BEGIN CERTIFICATE"))
	}
	info, err := l.info("spine", "LEDGER")
	if err != nil || info.State.Msgs != 40 {
		t.Errorf("LEDGER after the move: %v, %v; want 40 messages", info, err)
	}
	wantRefused(t, l.run(&RotateCerts{Finish: true}, withHosts), "no move to a new CA is under way")
}

// TestRotateCertsRefuses: TLS off, the operator's CA, no CA at all, and
// both flags are refused before any check runs, each saying what to do.
func TestRotateCertsRefuses(t *testing.T) {
	for what, tc := range map[string]struct {
		rb   *RotateCerts
		mod  func(e *Env)
		want string
	}{
		"tls off":     {&RotateCerts{}, func(e *Env) { e.Inv.TLS.Enabled = false }, "TLS is off"},
		"operator CA": {&RotateCerts{NewCA: true}, func(e *Env) { e.Inv.TLS.CAFile = "/etc/pki/corp-ca.pem" }, "renew them yourself, then run dcctl provision"},
		"no CA":       {&RotateCerts{}, func(*Env) {}, "restore it from a backup"},
		"both flags":  {&RotateCerts{NewCA: true, Finish: true}, func(*Env) {}, "do not go together"},
	} {
		e := inventoryEnv(t)
		tc.mod(e)
		err := tc.rb.Settle(e)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to say %q", what, err, tc.want)
		}
	}
}

// presentedCerts is what each running node shows on its listeners, by node.
func presentedCerts(t *testing.T, l *lab) map[string]map[string]*x509.Certificate {
	t.Helper()
	out := map[string]map[string]*x509.Certificate{}
	for _, n := range l.c.Inv.Nodes {
		if n.Standby {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		certs, err := l.s.PresentedCerts(ctx, n.Name)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		out[n.Name] = certs
	}
	return out
}
