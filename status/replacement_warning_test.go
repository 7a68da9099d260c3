package status

import (
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
)

// TestReplacementUnderWayIsOneVerdict: a standby node running as a meta peer
// beside an offline active one (replace-peer without --permanent, before the
// inventory edit) gets the replacement's warning alone: not also "standby
// node is running: provision it as a member or stop it", nor "started
// again: stop it", which point elsewhere.
func TestReplacementUnderWayIsOneVerdict(t *testing.T) {
	inv, err := inventory.Load(testcluster.WriteInventory(t, testcluster.Other()))
	if err != nil {
		t.Fatal(err)
	}
	cl := inv.Cluster("CORE")
	old, repl := cl.Nodes[0].Name, cl.Nodes[len(cl.Nodes)-1].Name
	inv.Node(repl).Standby = true
	d := &Domain{Name: cl.Domain, Cluster: cl.Name, MetaLeader: cl.Nodes[1].Name, ClusterSize: len(cl.Nodes), Quorum: 3, Responded: len(cl.Nodes) - 1}
	for _, n := range cl.Nodes {
		up := n.Name != old
		d.Meta = append(d.Meta, MetaPeer{Name: n.Name, Leader: n.Name == d.MetaLeader, Current: up, Online: up})
		unit := "active"
		if !up {
			unit = "inactive"
		}
		d.Servers = append(d.Servers, &Server{Name: n.Name, Host: n.Host, DC: n.DC, Standby: n.Standby, Online: up, Unit: unit})
	}
	var got []string
	for _, w := range warnings(inv, &Report{Domains: []*Domain{d}}) {
		if w.Domain == cl.Domain {
			got = append(got, w.Message)
		}
	}
	all := strings.Join(got, "\n")
	if !strings.Contains(all, "replacement under way") || !strings.Contains(all, "set standby = false on "+repl) {
		t.Errorf("no replacement warning naming %s:\n%s", repl, all)
	}
	for _, bad := range []string{"standby node " + repl + " is running", "started again"} {
		if strings.Contains(all, bad) {
			t.Errorf("a second hint %q beside the replacement's:\n%s", bad, all)
		}
	}
}
