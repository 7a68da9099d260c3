package status

import (
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/jetstream"
)

// TestLeaderlessSizeFromInventory: without a meta leader the survivors of a
// 5-node backbone with 3 down may report a group of 3 (the boot size a
// server counts from the servers it reached); the report takes the
// inventory's 5 and calls it a lost quorum, not "2 of 3 responded, an
// election is under way" (a CI run of TestQuorumLost said the latter).
func TestLeaderlessSizeFromInventory(t *testing.T) {
	inv, err := inventory.Load(testcluster.WriteInventory(t, testcluster.Other()))
	if err != nil {
		t.Fatal(err)
	}
	cl := inv.Clusters[0]
	alive := []string{cl.Nodes[3].Name, cl.Nodes[4].Name}
	m := &jetstream.MetaGroup{Domain: cl.Domain, Cluster: cl.Name, Size: 3, Quorum: 2, Responded: alive}
	for _, n := range alive {
		m.Peers = append(m.Peers, jetstream.Peer{Name: n})
	}
	nr := &natsResult{meta: map[string]*jetstream.MetaGroup{cl.Domain: m}, metaErr: map[string]error{},
		streams: map[string]*jetstream.StreamList{}, streamErr: map[string]error{}, first: map[string]*jetstream.StreamList{}}
	d := buildDomain(inv, cl, nr, map[string]unitResult{}, nil)
	if d.ClusterSize != 5 || d.Quorum != 3 {
		t.Errorf("cluster size %d, quorum %d: want the inventory's 5 and 3", d.ClusterSize, d.Quorum)
	}
	var b strings.Builder
	for _, w := range warnings(inv, &Report{Domains: []*Domain{d}}) {
		b.WriteString(w.Message + "\n")
	}
	if !strings.Contains(b.String(), "quorum lost") || strings.Contains(b.String(), "election is under way") {
		t.Errorf("warnings:\n%s", b.String())
	}
}
