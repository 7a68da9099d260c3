package main

import (
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// TestLockMajority: a runbook needs the lock on a majority of each cluster
// it acts on; clusters it does not act on do not count.
func TestLockMajority(t *testing.T) {
	node := func(name, cluster string) *inventory.Node { return &inventory.Node{Name: name, Cluster: cluster} }
	inv := &inventory.Inventory{Clusters: []*inventory.Cluster{
		{Name: "CORE", Nodes: []*inventory.Node{node("c1", "CORE"), node("c2", "CORE"), node("c3", "CORE"), node("c4", "CORE")}},
		{Name: "EDGE", Nodes: []*inventory.Node{node("e1", "EDGE"), node("e2", "EDGE"), node("e3", "EDGE")}},
	}}
	reached := func(names ...string) map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	for _, tc := range []struct {
		clusters []string
		reached  map[string]bool
		want     string // "" = allowed
	}{
		{[]string{"EDGE"}, reached("e1", "e2"), ""},
		{[]string{"EDGE"}, reached("e1", "c1", "c2", "c3", "c4"), "cluster EDGE's hosts: 1 of 3 answered over SSH (unreachable: e2, e3)"},
		{[]string{"CORE"}, reached("c1", "c2", "c3"), ""},
		{[]string{"CORE"}, reached("c1", "c2"), "cluster CORE's hosts: 2 of 4"}, // half is not a majority
		{[]string{"CORE", "EDGE"}, reached("c1", "c2", "c3", "e3"), "cluster EDGE's hosts: 1 of 3"},
		{nil, reached(), ""},
	} {
		err := lockMajority(inv, tc.clusters, tc.reached)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v with %v: refused: %v", tc.clusters, tc.reached, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v with %v: %v, want an error containing %q", tc.clusters, tc.reached, err, tc.want)
		}
	}
}
