package templates_test

import (
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

// TestGraphDCLink: each DC is a cluster of the drawing, and one edge joins
// the DCs' boxes, labelled with what crosses the link. Other names than the
// example's: a 5-node backbone, 3 + 2 across DCs.
func TestGraphDCLink(t *testing.T) {
	spec := testcluster.Other()
	inv, err := inventory.Load(testcluster.WriteInventory(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	out := string(templates.Graph(inv))
	hub := spec.Clusters[0]
	a, b := hub.Nodes[0].DC, hub.Nodes[len(hub.Nodes)-1].DC
	if a > b {
		a, b = b, a
	}
	for _, want := range []string{`subgraph "cluster_dc_` + a + `"`, `subgraph "cluster_dc_` + b + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("graph lacks %s", want)
		}
	}
	var links []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, `ltail="cluster_dc_`+a+`", lhead="cluster_dc_`+b+`"`) {
			links = append(links, l)
		}
	}
	if len(links) != 1 {
		t.Fatalf("want one edge between the DCs' boxes, got %d:\n%s", len(links), out)
	}
	for _, want := range []string{"DC link " + a + " - " + b, "routes of " + hub.Name, "leaf links of "} {
		if !strings.Contains(links[0], want) {
			t.Errorf("the DC link's label lacks %q: %s", want, links[0])
		}
	}

	// One DC: no link to draw.
	one := testcluster.Spec{AppAccount: "A", AppUser: "a", SysAccount: "S", SysUser: "s",
		Clusters: []testcluster.ClusterSpec{{Name: "ONLY", Domain: "only", Nodes: []testcluster.NodeSpec{{Name: "x1", DC: "here"}, {Name: "x2", DC: "here"}, {Name: "x3", DC: "here"}}}}}
	inv1, err := inventory.Load(testcluster.WriteInventory(t, one))
	if err != nil {
		t.Fatal(err)
	}
	if out := string(templates.Graph(inv1)); strings.Contains(out, "DC link") {
		t.Errorf("a one-DC graph draws a DC link:\n%s", out)
	}
}
