package provision

import (
	"strings"
	"testing"
)

// TestRoutePortSwitchCannotRoll: running nodes whose cluster_port changes
// together are named (the first one restarted would reach none of its
// peers), and the refusal says both ways out; one node moving alone, or a
// restart that keeps the routes, is not.
func TestRoutePortSwitchCannotRoll(t *testing.T) {
	node := "bb_us_2"
	inv, plan := runningNodePlans(t, node)
	everyNode := plan(func(s string) string {
		return strings.Replace(s, "cluster_port = 6222\n", "cluster_port = 16333\n", 1)
	})
	if got := RoutePortSwitch(inv, []*HostPlan{everyNode}); len(got) != 1 || got[0] != node {
		t.Fatalf("cluster_port of every node changed: %v (plan %v, %v)", got, everyNode.Action, everyNode.Why)
	}
	msg := (&RoutePortSwitchRefusedError{Nodes: []string{node}}).Error()
	for _, want := range []string{"--tls-cutover", "cluster_port", node} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal lacks %q: %s", want, msg)
		}
	}
	// only this node's port moves: its peers stay where they are
	alone := plan(func(s string) string {
		return strings.Replace(s, "[nodes."+node+"]\n", "[nodes."+node+"]\ncluster_port = 16333\n", 1)
	})
	if got := RoutePortSwitch(inv, []*HostPlan{alone}); len(got) != 0 || alone.Action != ActionRestart {
		t.Errorf("own port alone: switch %v, action %v", got, alone.Action)
	}
	// another restart, routes as they are
	other := plan(func(s string) string {
		return strings.Replace(s, `max_file_store = "2GB"`, `max_file_store = "3GB"`, 1)
	})
	if got := RoutePortSwitch(inv, []*HostPlan{other}); len(got) != 0 || other.Action != ActionRestart {
		t.Errorf("routes kept: switch %v, action %v", got, other.Action)
	}
}
