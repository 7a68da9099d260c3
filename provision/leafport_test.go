package provision

import (
	"context"
	"strings"
	"testing"
)

// leafPortPlans plans every node of the fixture (or only those named) on
// hosts running the fixture's files, after the hub's leafnode_port moved
// from 7422 to 7433.
func leafPortPlans(t *testing.T, only ...string) []*HostPlan {
	t.Helper()
	inv, sec, bin := fixture(t, nil)
	inv2, sec2, bin2 := fixture(t, func(s string) string {
		return strings.Replace(s, "leafnode_port = 7422", "leafnode_port = 7433", 1)
	})
	var plans []*HostPlan
	for _, n := range inv.Nodes {
		if n.Standby || (len(only) > 0 && !containsName(only, n.Name)) {
			continue
		}
		dirs, files, err := desired(inv, sec, bin, n.Name)
		if err != nil {
			t.Fatal(err)
		}
		running, fetch := hostWith(files, dirs)
		dirs2, files2, err := desired(inv2, sec2, bin2, n.Name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := planHost(context.Background(), inv2, sec2, inv2.Node(n.Name), dirs2, files2, running, fetch)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
	}
	noteLeafPortMoves(inv2, plans)
	return plans
}

// TestHubLeafPortMoveSaysWhatTheLeafLinksDo: the hub's new leafnode_port
// restarts its nodes, and the leaf nodes (their remotes change); the plan
// said only that (an audit's publisher on a leaf cluster saw publishes
// fail). Now every hub node names the leaf clusters, what its restart does
// to their links and the order; every leaf node says when it restarts and
// that its links stay up meanwhile. Checked on the lab: the links moved at
// each hub restart and stayed up until the leaves' restarts.
func TestHubLeafPortMoveSaysWhatTheLeafLinksDo(t *testing.T) {
	plans := leafPortPlans(t)
	hubs, leaves := 0, 0
	for _, p := range plans {
		why := strings.Join(p.Why, "; ")
		if p.Action != ActionRestart {
			t.Errorf("%s: action %q (%s), want restart", p.Node.Name, p.Action, why)
			continue
		}
		switch p.Node.Cluster {
		case "BB":
			hubs++
			for _, want := range []string{"leafnode port of cluster BB changes: each of its nodes' restarts drops the links of leaf clusters EMEA, US on it for a moment (they reconnect to another BB node, on the new port too",
				"provision restarts BB's nodes one at a time first, then those of EMEA and US side by side, one at a time in each, every leaf node done once its links are up, so that their remotes name the new port"} {
				if !strings.Contains(why, want) {
					t.Errorf("hub node %s: plan lacks %q: %s", p.Node.Name, want, why)
				}
			}
		default:
			leaves++
			if want := "its remotes move to cluster BB's new leafnode port: restarted after BB's rollout (its links stay up meanwhile, on the port BB's nodes announce)"; !strings.Contains(why, want) {
				t.Errorf("leaf node %s: plan lacks %q: %s", p.Node.Name, want, why)
			}
		}
	}
	if hubs != 4 || leaves != 6 {
		t.Errorf("%d hub and %d leaf nodes planned, want 4 and 6", hubs, leaves)
	}
}

// TestHubLeafPortMoveWithoutItsLeaves: with --limit on the hub's nodes, a
// leaf cluster is not restarted by the run: the plan says its links keep
// to the announced port, but a node of it that restarts before provision
// reaches it reaches no hub node.
func TestHubLeafPortMoveWithoutItsLeaves(t *testing.T) {
	plans := leafPortPlans(t, "bb_emea_1", "bb_emea_2", "bb_us_1", "bb_us_2", "us_1", "us_2", "us_3")
	for _, p := range plans {
		if p.Node.Cluster != "BB" {
			continue
		}
		why := strings.Join(p.Why, "; ")
		for _, want := range []string{"then US's, one at a time", "EMEA is not restarted by this run (--limit, or unreachable): its links keep to the port the hub announced, but a node of it that restarts before `dcctl provision` gives it the new remotes reaches no BB node"} {
			if !strings.Contains(why, want) {
				t.Errorf("%s: plan lacks %q: %s", p.Node.Name, want, why)
			}
		}
	}
}
