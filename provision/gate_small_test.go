package provision

import (
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
)

// TestGateRefusesTwoNodeClusterAtOnce: in a cluster of two, either node
// down costs the meta quorum however healthy the other is. The gate says so
// at once, with what the operator can do, instead of waiting out its
// timeout for a quorum that cannot come (no server is even asked: none
// runs here).
func TestGateRefusesTwoNodeClusterAtOnce(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "SHOP", AppUser: "till", SysAccount: "OPS", SysUser: "oncall",
		Clusters: []testcluster.ClusterSpec{{Name: "PAIR", Domain: "pair", Nodes: []testcluster.NodeSpec{{Name: "p-1", DC: "x"}, {Name: "p-2", DC: "x"}}}}}
	inv, err := inventory.Load(testcluster.WriteInventory(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession(inv, &inventory.Secrets{}, SessionOptions{Direct: true})
	defer s.Close()
	err = s.GateBefore(t.Context(), "p-1", 20*time.Second, nil, nil)
	if err == nil {
		t.Fatal("the gate lets a node of a 2-node cluster go down")
	}
	for _, want := range []string{"cluster PAIR has 2 nodes", "no restart of its nodes is safe", "dcctl node restart"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("gate error lacks %q: %v", want, err)
		}
	}
}
