package provision

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/templates"
)

// TestTLSSwitchCannotRoll: a running node whose config turns TLS on (or
// off) is named, and the refusal says both ways out; a first install or a
// change that keeps TLS as it is is not.
func TestTLSSwitchCannotRoll(t *testing.T) {
	plain, psec, pbin := fixture(t, func(s string) string { return s + "\n[tls]\nenabled = false\n" })
	node := "bb_us_2"
	dirs, files, err := desired(plain, psec, pbin, node)
	if err != nil {
		t.Fatal(err)
	}
	facts, fetch := hostWith(files, dirs)
	inv, sec, bin := fixture(t, nil)
	dirs2, files2, _ := desired(inv, sec, bin, node)
	p, err := planHost(context.Background(), inv, sec, inv.Node(node), dirs2, files2, facts, fetch)
	if err != nil {
		t.Fatal(err)
	}
	if got := TLSSwitch(inv, []*HostPlan{p}); len(got) != 1 || got[0] != node {
		t.Fatalf("plaintext -> TLS on a running node: %v (plan %v, %v)", got, p.Action, p.Why)
	}
	msg := (&TLSSwitchRefusedError{Nodes: []string{node}, On: true}).Error()
	for _, want := range []string{"--tls-cutover", "enabled = false", "docs/security.md", node} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal lacks %q: %s", want, msg)
		}
	}
	// back to plaintext: the same
	tf, tfetch := hostWith(files2, dirs2)
	p, _ = planHost(context.Background(), plain, psec, plain.Node(node), dirs, files, tf, tfetch)
	if got := TLSSwitch(plain, []*HostPlan{p}); len(got) != 1 {
		t.Errorf("TLS -> plaintext: %v", got)
	}
	// TLS stays on, something else changes: no switch
	inv3, sec3, bin3 := fixture(t, func(s string) string {
		return strings.Replace(s, `max_file_store = "2GB"`, `max_file_store = "3GB"`, 1)
	})
	dirs3, files3, _ := desired(inv3, sec3, bin3, node)
	p, _ = planHost(context.Background(), inv3, sec3, inv3.Node(node), dirs3, files3, tf, tfetch)
	if got := TLSSwitch(inv3, []*HostPlan{p}); len(got) != 0 || p.Action != ActionRestart {
		t.Errorf("TLS kept: switch %v, action %v", got, p.Action)
	}
}

// TestCheckNewCA: a new CA is refused where a host already has dcctl's CA
// file or could not be asked, and allowed for hosts that have none.
func TestCheckNewCA(t *testing.T) {
	inv, sec, bin := fixture(t, nil)
	m, err := pki.Prepare(inv, time.Now())
	if err != nil || !m.CreatedCA() {
		t.Fatalf("fixture: %v", err)
	}
	node := inv.Nodes[0]
	_, files, _ := desired(inv, sec, bin, node.Name)
	fresh := &Facts{Files: map[string]FileFact{}}
	if err := CheckNewCA(inv, m, []*HostPlan{{Node: node, Facts: fresh}}); err != nil {
		t.Errorf("fresh host: %v", err)
	}
	had, _ := hostWith(files, nil)
	err = CheckNewCA(inv, m, []*HostPlan{{Node: node, Facts: had}})
	if err == nil || !strings.Contains(err.Error(), "already has "+templates.PathsFor(inv).TLSCA) || !strings.Contains(err.Error(), "Restore") {
		t.Errorf("host with a CA file: %v", err)
	}
	// A host that could not be asked is no sign of a lost CA: the refusal
	// says to reach it first, not to restore a backup that may never have
	// existed (a first provision with a wrong key).
	err = CheckNewCA(inv, m, []*HostPlan{{Node: node, Unreachable: errors.New("no route")}})
	if err == nil || !strings.Contains(err.Error(), "no route") || !strings.Contains(err.Error(), "Make every host reachable") || strings.Contains(err.Error(), "may already run") {
		t.Errorf("unreachable host: %v, want a refusal saying to reach it", err)
	}
	err = CheckNewCA(inv, m, []*HostPlan{{Node: node, Facts: had}, {Node: inv.Nodes[1], Unreachable: errors.New("no route")}})
	if err == nil || !strings.Contains(err.Error(), "Restore") || !strings.Contains(err.Error(), "no route") {
		t.Errorf("a host with a CA file and an unreachable one: %v", err)
	}
}

// TestRouteLoginReadBack: the route password and its hash are read back
// from a rendered config, as AdoptRoutePassword needs them.
func TestRouteLoginReadBack(t *testing.T) {
	inv, sec, bin := fixture(t, nil)
	_, files, _ := desired(inv, sec, bin, "bb_emea_1")
	pw, hash := sec.Route()
	var conf []byte
	for _, f := range files {
		if f.Path == templates.PathsFor(inv).Config {
			conf = f.Content
		}
	}
	gotPW, gotHash := routeLogin(conf)
	if gotPW != pw || gotHash != hash || pw == "" {
		t.Errorf("read back %q %q, want %q %q", gotPW, gotHash, pw, hash)
	}
	if p, h := routeLogin([]byte("listen: 1.2.3.4:4222\n")); p != "" || h != "" {
		t.Errorf("config without routes: %q %q", p, h)
	}
}

// TestPlanShowsCertificatesNotKeys: a node with a new certificate and key
// reloads (a leaf node restarts, gated: its leafnode remotes take new TLS
// files only then), and its plan, diffs included, shows the certificate by
// fingerprint and the key only as changed: no PEM of either.
func TestPlanShowsCertificatesNotKeys(t *testing.T) {
	for node, want := range map[string]Action{"emea_3": ActionRestart, "bb_emea_1": ActionReload} {
		inv, sec, bin := fixture(t, nil)
		dirs, files, _ := desired(inv, sec, bin, node)
		facts, fetch := hostWith(files, dirs)
		ca, err := pki.NewCA("renewed", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		nc, err := ca.Issue(node, pki.NamesFor(inv.Node(node)), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		sec.SetTLS(ca.CertPEM, map[string]inventory.NodeTLS{node: {CA: ca.CertPEM, Cert: nc.CertPEM, Key: nc.KeyPEM}})
		dirs2, files2, _ := desired(inv, sec, bin, node)
		p, err := planHost(context.Background(), inv, sec, inv.Node(node), dirs2, files2, facts, fetch)
		if err != nil {
			t.Fatal(err)
		}
		if p.Action != want || !strings.Contains(strings.Join(p.Why, " "), "TLS files") {
			t.Errorf("%s: action %q %v, want %s for the TLS files", node, p.Action, p.Why, want)
		}
		var out strings.Builder
		PrintPlans(&out, []*HostPlan{p}, true)
		text := out.String()
		if strings.Contains(text, "PRIVATE KEY") || strings.Contains(text, "BEGIN CERTIFICATE") {
			t.Errorf("%s: the plan shows PEM:\n%s", node, text)
		}
		if !strings.Contains(text, pki.Fingerprint(nc.CertPEM)) || !strings.Contains(text, "private key changed (not shown)") {
			t.Errorf("%s: the plan does not show the new certificate's fingerprint and the key as changed:\n%s", node, text)
		}
	}
}

// TestPlanLeafTrustOnlyGainsCA: a leaf node whose CA file only gains a CA
// reloads (its leafnode remotes need the new CA only once servers show
// certificates from it, after they restart for those); one whose CA file
// drops a CA restarts: its remotes would trust the dropped CA until then.
func TestPlanLeafTrustOnlyGainsCA(t *testing.T) {
	node := "emea_3"
	for what, tc := range map[string]struct {
		drop bool
		want Action
	}{"gains a CA": {false, ActionReload}, "drops a CA": {true, ActionRestart}} {
		inv, sec, bin := fixture(t, nil)
		cur, _ := sec.NodeTLS(node)
		other, err := pki.NewCA("other", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		both := append(append([]byte{}, cur.CA...), other.CertPEM...)
		onHost, rendered := cur.CA, both
		if tc.drop {
			onHost, rendered = both, cur.CA
		}
		sec.SetTLS(onHost, map[string]inventory.NodeTLS{node: {CA: onHost, Cert: cur.Cert, Key: cur.Key}})
		dirs, files, _ := desired(inv, sec, bin, node)
		facts, fetch := hostWith(files, dirs)
		sec.SetTLS(rendered, map[string]inventory.NodeTLS{node: {CA: rendered, Cert: cur.Cert, Key: cur.Key}})
		dirs2, files2, _ := desired(inv, sec, bin, node)
		p, err := planHost(context.Background(), inv, sec, inv.Node(node), dirs2, files2, facts, fetch)
		if err != nil {
			t.Fatal(err)
		}
		if p.Action != tc.want {
			t.Errorf("%s: action %q %v, want %s", what, p.Action, p.Why, tc.want)
		}
	}
}
