package provision

import (
	"strings"
	"testing"
)

// TestClusterRenameCannotRoll: running nodes of a renamed cluster, or of a
// cluster under a new JetStream domain, are named
// (nats-server closes a route from a server naming another cluster:
// ClusterNameConflict), and the refusal says both ways out; a restart that
// keeps the name is not.
func TestClusterRenameCannotRoll(t *testing.T) {
	node := "bb_us_2"
	inv, plan := runningNodePlans(t, node)
	renamed := plan(func(s string) string {
		return strings.ReplaceAll(strings.Replace(s, "[clusters.BB]", "[clusters.CORE]", 1), `"BB"`, `"CORE"`)
	})
	if got := ClusterRenamed(inv, []*HostPlan{renamed}); len(got) != 1 || got[0] != node {
		t.Fatalf("cluster renamed: %v (plan %v, %v)", got, renamed.Action, renamed.Why)
	}
	msg := (&ClusterRenameRefusedError{Nodes: []string{node}}).Error()
	for _, want := range []string{"--tls-cutover", "keep the cluster's name and domain", node} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal lacks %q: %s", want, msg)
		}
	}
	// a new JetStream domain: the node never becomes a current meta peer
	// of its cluster (the lab: offline for the gate's 3 minutes)
	domain := plan(func(s string) string { return strings.Replace(s, `domain = "hub"`, `domain = "core"`, 1) })
	if got := ClusterRenamed(inv, []*HostPlan{domain}); len(got) != 1 || got[0] != node {
		t.Fatalf("domain renamed: %v (plan %v, %v)", got, domain.Action, domain.Why)
	}
	other := plan(func(s string) string {
		return strings.Replace(s, `max_file_store = "2GB"`, `max_file_store = "3GB"`, 1)
	})
	if got := ClusterRenamed(inv, []*HostPlan{other}); len(got) != 0 || other.Action != ActionRestart {
		t.Errorf("name kept: %v, action %v", got, other.Action)
	}
}
