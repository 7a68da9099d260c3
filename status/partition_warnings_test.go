package status

import (
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
)

// TestStaleLeaderPerSide: right after a cut, the meta leader on the side
// without a majority still claims the role. Its side's view must not say
// that administration works there. Names are not the example's.
func TestStaleLeaderPerSide(t *testing.T) {
	spec := testcluster.Other()
	inv, err := inventory.Load(testcluster.WriteInventory(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	hub := spec.Clusters[0]
	near, far := hub.Nodes[0].DC, hub.Nodes[len(hub.Nodes)-1].DC
	d := &Domain{Name: hub.Domain, Cluster: hub.Name, ClusterSize: 5, Quorum: 3, Views: []SideView{
		{DC: far, Answered: []string{"x", "y"}, MetaLeader: hub.Nodes[len(hub.Nodes)-1].Name, ClusterSize: 5, Quorum: 3, HealthyPeers: 2},
		{DC: near, Answered: []string{"a", "b", "c"}, MetaLeader: hub.Nodes[0].Name, ClusterSize: 5, Quorum: 3, HealthyPeers: 3},
	}}
	var got []string
	add := func(level, domain, format string, a ...any) { got = append(got, level+" "+format) }
	sideWarnings(inv, d, map[string]bool{far: true}, add)
	text := strings.Join(got, "\n")
	if len(got) != 2 || !strings.Contains(got[0], "still claims the meta leadership") || !strings.Contains(got[1], "administration works on this side") {
		t.Errorf("side warnings:\n%s", text)
	}
}

// TestElectionAfterACutPerSide: seconds after a cut the side holding a
// majority of the backbone has no leader yet (the leader was on the other
// side). Its view says an election is under way, not that nothing can be
// administered there (on the lab: "no meta leader on this side (3 of 5
// servers here answer, quorum needs 3): no stream can be created ...").
func TestElectionAfterACutPerSide(t *testing.T) {
	spec := testcluster.Other()
	inv, err := inventory.Load(testcluster.WriteInventory(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	hub := spec.Clusters[0]
	near, far := hub.Nodes[0].DC, hub.Nodes[len(hub.Nodes)-1].DC
	d := &Domain{Name: hub.Domain, Cluster: hub.Name, ClusterSize: 5, Quorum: 3, Views: []SideView{
		{DC: far, Answered: []string{"x", "y"}, ClusterSize: 5, Quorum: 3},
		{DC: near, Answered: []string{"a", "b", "c"}, ClusterSize: 5, Quorum: 3},
	}}
	var got []string
	add := func(level, domain, format string, a ...any) { got = append(got, level+" "+format) }
	sideWarnings(inv, d, map[string]bool{far: true}, add)
	text := strings.Join(got, "\n")
	if len(got) != 2 || !strings.Contains(got[0], "no stream can be created") || !strings.Contains(got[1], "they are electing one") || strings.Contains(got[1], "no stream can be created") {
		t.Errorf("side warnings:\n%s", text)
	}
}

// TestDiscountCut: a leader in a cut-off DC reaches only its own DC's peers,
// whatever it still reports in the first seconds after the cut.
func TestDiscountCut(t *testing.T) {
	spec := testcluster.Other()
	inv, err := inventory.Load(testcluster.WriteInventory(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	hub := spec.Clusters[0]
	near, far := hub.Nodes[0].DC, hub.Nodes[len(hub.Nodes)-1].DC
	var all []string
	for _, n := range hub.Nodes {
		all = append(all, n.Name)
	}
	r := &Report{DCs: []DC{{Name: near}, {Name: far, Cut: true}}, Domains: []*Domain{{Name: hub.Domain, Cluster: hub.Name, Views: []SideView{
		{DC: far, MetaLeader: hub.Nodes[len(hub.Nodes)-1].Name, ClusterSize: 5, Quorum: 3, HealthyPeers: 5, healthy: all},
		{DC: near, MetaLeader: hub.Nodes[0].Name, ClusterSize: 5, Quorum: 3, HealthyPeers: 5, healthy: all},
	}}}}
	discountCut(inv, r)
	if got := r.Domains[0].Views; got[0].HealthyPeers != 2 || got[1].HealthyPeers != 3 {
		t.Errorf("healthy peers per side after the cut: %s %d, %s %d; want 2 and 3", got[0].DC, got[0].HealthyPeers, got[1].DC, got[1].HealthyPeers)
	}
}
