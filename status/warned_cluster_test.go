package status

import (
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
)

// TestWarnedClusterDottedName: an inventory warning keyed by a cluster whose
// name holds a dot (clusters."EDGE.AMS") is placed under that cluster.
func TestWarnedClusterDottedName(t *testing.T) {
	spec := testcluster.Other()
	spec.Clusters[1].Name = "EDGE.NYC"
	inv, err := inventory.Load(testcluster.WriteInventory(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`clusters."EDGE.NYC"`, inventory.Key("clusters", "EDGE.NYC")} {
		if cl := warnedCluster(inv, key); cl == nil || cl.Name != "EDGE.NYC" {
			t.Errorf("warnedCluster(%s) = %v, want EDGE.NYC", key, cl)
		}
	}
	if cl := warnedCluster(inv, "clusters.EDGE.NYC"); cl != nil {
		t.Errorf("warnedCluster(clusters.EDGE.NYC) = %s, want none: that key is three parts", cl.Name)
	}
}
