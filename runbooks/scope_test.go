package runbooks

import (
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

func TestClustersARunbookActsOn(t *testing.T) {
	node := func(name, cluster string) *inventory.Node { return &inventory.Node{Name: name, Cluster: cluster} }
	core := &inventory.Cluster{Name: "CORE", Domain: "central", Nodes: []*inventory.Node{node("c1", "CORE"), node("c2", "CORE")}}
	edge := &inventory.Cluster{Name: "EDGE", Domain: "edge", Nodes: []*inventory.Node{node("e1", "EDGE")}}
	inv := &inventory.Inventory{Clusters: []*inventory.Cluster{core, edge}, Nodes: append(append([]*inventory.Node{}, core.Nodes...), edge.Nodes...)}
	for _, tc := range []struct {
		rb   Runbook
		want string
	}{
		{&ReplacePeer{Node: "c1", Replacement: "c2"}, "CORE"},
		{&ReplacePeer{Node: "nope"}, ""},
		{&RestoreNode{Node: "e1"}, "EDGE"},
		{&ExpandStream{Stream: "s", Domain: "edge"}, "EDGE"},
		{&Backup{Stream: "s", Domain: "central"}, "CORE"},
		{&RestoreStream{From: t.TempDir(), Domain: "central"}, "CORE"},
		{&RestoreStream{From: t.TempDir()}, ""}, // no manifest: its pre-check refuses
		{&RollingRestart{Cluster: "EDGE"}, "EDGE"},
		{&RollingRestart{}, "CORE,EDGE"},
	} {
		if got := strings.Join(Clusters(inv, tc.rb), ","); got != tc.want {
			t.Errorf("%s %s: clusters %q, want %q", tc.rb.Name(), tc.rb.Target(), got, tc.want)
		}
	}
}
