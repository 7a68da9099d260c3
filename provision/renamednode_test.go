package provision

import (
	"context"
	"strings"
	"testing"
)

// TestRenamedRunningNodeIsRefused: [nodes.bb_us_2] renamed [nodes.us_two]
// on the same host, whose unit runs bb_us_2's config: provision would
// restart it as us_two on bb_us_2's store (bb_us_2 left an offline meta
// peer). It is named, with the host, both names and the way to retire the
// old name (before, provision went ahead: the new name runs nowhere and the
// old one is in no inventory). The node under its own name, a fresh host and
// a stopped unit (the old name retired first) are not named.
func TestRenamedRunningNodeIsRefused(t *testing.T) {
	old, renamed := "bb_us_2", "us_two"
	inv, sec, bin := fixture(t, nil)
	dirs, files, err := desired(inv, sec, bin, old)
	if err != nil {
		t.Fatal(err)
	}
	running, fetch := hostWith(files, dirs)
	inv2, sec2, bin2 := fixture(t, func(s string) string {
		return strings.Replace(s, "[nodes."+old+"]", "[nodes."+renamed+"]", 1)
	})
	dirs2, files2, err := desired(inv2, sec2, bin2, renamed)
	if err != nil {
		t.Fatal(err)
	}
	planOn := func(facts *Facts) *HostPlan {
		t.Helper()
		p, err := planHost(context.Background(), inv2, sec2, inv2.Node(renamed), dirs2, files2, facts, fetch)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := planOn(running)
	err2 := NodesRenamed(inv2, []*HostPlan{p})
	if err2 == nil || len(err2.Nodes) != 1 {
		t.Fatalf("renamed running node not refused: %v (plan %v, %v)", err2, p.Action, p.Why)
	}
	host := inv2.Node(renamed).Host
	if got := err2.Nodes[0]; got.Node != renamed || got.Was != old || got.Host != host {
		t.Errorf("refusal names %+v", got)
	}
	msg := err2.Error()
	for _, want := range []string{renamed + " (host " + host + ") runs the server " + old, "no longer lists",
		"`dcctl node stop " + old + "`", "`dcctl runbook replace-peer " + old + " --permanent`",
		"empty " + inv2.NATS.StoreDir, stopMarkerPath(inv2), "keep the name", "Renaming a node"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal lacks %q: %s", want, msg)
		}
	}
	if got := err2.NodeNames(); len(got) != 1 || got[0] != renamed {
		t.Errorf("NodeNames %v", got)
	}

	// the name kept: the same host's plan names nothing
	kept, err := planHost(context.Background(), inv, sec, inv.Node(old), dirs, files, running, fetch)
	if err != nil {
		t.Fatal(err)
	}
	if got := NodesRenamed(inv, []*HostPlan{kept}); got != nil {
		t.Errorf("node under its own name: %v", got)
	}
	// a fresh host: no config, no unit
	fresh := &Facts{OS: "Linux", Arch: "x86_64", Systemd: true, UnitEnabled: "not-found", UnitActive: "inactive", Files: map[string]FileFact{}, Dirs: map[string]FileFact{}}
	if got := NodesRenamed(inv2, []*HostPlan{planOn(fresh)}); got != nil {
		t.Errorf("fresh host: %v", got)
	}
	// the old name retired first (its unit down): the rename goes ahead
	stopped, _ := hostWith(files, dirs)
	stopped.UnitActive, stopped.UnitEnabled = "inactive", "disabled"
	if got := NodesRenamed(inv2, []*HostPlan{planOn(stopped)}); got != nil {
		t.Errorf("stopped unit: %v", got)
	}
}
