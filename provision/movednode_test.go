package provision

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

// TestNodeStillRunningElsewhereIsRefused: a node the inventory moved to
// another host, whose old server still runs, is not started on the new
// one: a running peer's /routez names a server of that name routed from
// the old address. On the lab, before this check, provision started it and
// the cluster had two servers named alike. Once the old server is stopped
// the move goes ahead. A host kept in the inventory for another node while
// it still runs the moved one is refused as well, from its facts alone.
func TestNodeStillRunningElsewhereIsRefused(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "ORDERS", AppUser: "ord", SysAccount: "ADM", SysUser: "adm",
		Clusters: []testcluster.ClusterSpec{{Name: "RING", Domain: "ring", Nodes: []testcluster.NodeSpec{
			{Name: "r-a", DC: "x"}, {Name: "r-b", DC: "x"}, {Name: "r-c", DC: "y"}}}}}
	path := testcluster.WriteInventory(t, spec)
	c := testcluster.Start(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// the operator's edit: r-c on another host (every test server routes
	// from 127.0.0.1)
	moved, err := inventory.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	n := moved.Node("r-c")
	n.Host, n.Listen = "127.0.9.9", "127.0.9.9"
	plansFor := func(inv *inventory.Inventory) []*HostPlan {
		var out []*HostPlan
		for _, n := range inv.Nodes {
			p := &HostPlan{Node: n, Facts: &Facts{UnitActive: "active"}, Action: ActionReload}
			if n.Name == "r-c" { // a first install on its new host
				p.Facts, p.Action = &Facts{UnitActive: "inactive", UnitEnabled: "not-found"}, ActionStart
			}
			out = append(out, p)
		}
		return out
	}
	s := NewSession(moved, c.Secrets, SessionOptions{Direct: true, NATSTimeout: 2 * time.Second})
	defer s.Close()
	err = CheckNodesElsewhere(ctx, s, plansFor(moved))
	var elsewhere *NodeElsewhereError
	if !errors.As(err, &elsewhere) || len(elsewhere.Nodes) != 1 {
		t.Fatalf("r-c still runs at 127.0.0.1: %v", err)
	}
	if got := elsewhere.Nodes[0]; got.Node != "r-c" || got.At != "127.0.0.1" || got.Host != "127.0.9.9" {
		t.Errorf("refusal names %+v", got)
	}
	for _, want := range []string{"r-c of cluster RING runs at 127.0.0.1", "now puts it on 127.0.9.9", "split brain",
		"`dcctl node stop NODE`", "`systemctl disable --now " + moved.NATS.Service + "`", "Moving a node to another host"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal lacks %q: %v", want, err)
		}
	}

	// A start planned at the address the server is routed from moves nothing.
	same := NewSession(c.Inv, c.Secrets, SessionOptions{Direct: true, NATSTimeout: 2 * time.Second})
	defer same.Close()
	if err := CheckNodesElsewhere(ctx, same, plansFor(c.Inv)); err != nil {
		t.Errorf("r-c where it runs: %v", err)
	}

	// The old host kept in the inventory, for r-b now, while it runs r-c:
	// its installed config says so, whatever the peers say.
	config := templates.PathsFor(moved).Config
	swapped := plansFor(moved)
	for _, p := range swapped {
		if p.Node.Name == "r-b" {
			p.Action = ActionRestart
			p.Files = []FileChange{{File: templates.File{Path: config, Content: []byte("server_name: \"r-b\"\n")}, OldConfig: []byte("server_name: \"r-c\"\n")}}
		}
	}
	c.Stop("r-c")
	err = CheckNodesElsewhere(ctx, s, swapped)
	if !errors.As(err, &elsewhere) || elsewhere.Nodes[0].OnHost != "r-b" || elsewhere.Nodes[0].Node != "r-c" {
		t.Fatalf("r-b's host runs r-c: %v", err)
	}
	if !strings.Contains(err.Error(), "r-b (host "+moved.Node("r-b").Host+") runs the server r-c of cluster RING") {
		t.Errorf("refusal: %v", err)
	}

	// With the old server stopped, the move goes ahead.
	testwait.Eventually(t, 30*time.Second, "r-c's routes closed", func() error {
		return CheckNodesElsewhere(ctx, s, plansFor(moved))
	})
}
