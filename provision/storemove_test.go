package provision

import (
	"strings"
	"testing"
)

// TestStoreDirMoveIsRefused: a running node whose store_dir changes would
// restart on an empty JetStream store (an R1 stream's only copy left
// behind): it is named, with the way to move a store by hand; another
// restart, or a stopped node, is not.
func TestStoreDirMoveIsRefused(t *testing.T) {
	node := "bb_us_2"
	inv, plan := runningNodePlans(t, node)
	moved := plan(func(s string) string {
		return strings.Replace(s, `store_dir = "/var/lib/nats"`, `store_dir = "/srv/nats-js"`, 1)
	})
	// the plan says what changes beside the unit (which names the store)
	if why := strings.Join(moved.Why, "; "); !strings.Contains(why, "unit changed") || !strings.Contains(why, "config changed: jetstream.store_dir") {
		t.Errorf("plan's why: %q, want the unit and jetstream.store_dir named", why)
	}
	err2 := StoreDirMove(inv, []*HostPlan{moved})
	if err2 == nil || len(err2.Nodes) != 1 || err2.Nodes[0] != node || err2.From != "/var/lib/nats" {
		t.Fatalf("store_dir moved: %+v (plan %v, %v)", err2, moved.Action, moved.Why)
	}
	inv2, _, _ := fixture(t, func(s string) string {
		return strings.Replace(s, `store_dir = "/var/lib/nats"`, `store_dir = "/srv/nats-js"`, 1)
	})
	msg := StoreDirMove(inv2, []*HostPlan{moved}).Error()
	for _, want := range []string{node, "/var/lib/nats -> /srv/nats-js", "R1 stream", "dcctl node stop NODE", "--limit NODE"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal lacks %q: %s", want, msg)
		}
	}
	other := plan(func(s string) string {
		return strings.Replace(s, `max_file_store = "2GB"`, `max_file_store = "3GB"`, 1)
	})
	if got := StoreDirMove(inv, []*HostPlan{other}); got != nil || other.Action != ActionRestart {
		t.Errorf("store kept: %v, action %v", got, other.Action)
	}
	moved.Action = ActionNone // a stopped node: moved by hand before its start
	if got := StoreDirMove(inv, []*HostPlan{moved}); got != nil {
		t.Errorf("stopped node named: %v", got)
	}
}
