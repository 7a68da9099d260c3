package provision

import (
	"context"
	"strings"
	"testing"
)

// TestServiceRenamedIsRefused: a node last started by dcctl under another
// unit (its applied marker names busd.service, the inventory now says
// busd2) is named with the old and new unit and the way to rename node by
// node; the same unit, or a host dcctl never started, is not.
func TestServiceRenamedIsRefused(t *testing.T) {
	node := "bb_us_2"
	rename := func(s string) string { return strings.Replace(s, `service = "nats-server"`, `service = "busd2"`, 1) }
	inv, sec, bin := fixture(t, nil)
	dirs, files, err := desired(inv, sec, bin, node)
	if err != nil {
		t.Fatal(err)
	}
	running, fetch := hostWith(files, dirs)
	running.Applied = map[string]string{}
	for _, f := range files {
		running.Applied[f.Path] = f.SHA256
	}
	inv2, sec2, bin2 := fixture(t, rename)
	dirs2, files2, err := desired(inv2, sec2, bin2, node)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planHost(context.Background(), inv2, sec2, inv2.Node(node), dirs2, files2, running, fetch)
	if err != nil {
		t.Fatal(err)
	}
	got := ServiceRenamed(inv2, []*HostPlan{p})
	if got == nil || len(got.Nodes) != 1 || got.Nodes[0] != node || got.Old != "nats-server.service" || got.New != "busd2.service" {
		t.Fatalf("renamed service: %+v", got)
	}
	for _, want := range []string{"busd2.service beside nats-server.service", "systemctl disable --now nats-server", "/etc/nats/.dcctl-applied", "--limit NODE", `keep service = "nats-server"`} {
		if !strings.Contains(got.Error(), want) {
			t.Errorf("refusal lacks %q: %s", want, got)
		}
	}
	p0, err := planHost(context.Background(), inv, sec, inv.Node(node), dirs, files, running, fetch)
	if err != nil {
		t.Fatal(err)
	}
	if got := ServiceRenamed(inv, []*HostPlan{p0}); got != nil {
		t.Errorf("same unit named: %v", got)
	}
	running.Applied = nil
	if got := ServiceRenamed(inv2, []*HostPlan{p}); got != nil {
		t.Errorf("a host without an applied marker named: %v", got)
	}
}
