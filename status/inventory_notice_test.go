package status

import (
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
)

// TestInventoryWarningsInOneNotice: the inventory's own warnings are one
// compact notice naming each by key, pointing to `dcctl validate` for the
// rest, not a paragraph each in every status; a cluster's only when its
// domain is reported.
func TestInventoryWarningsInOneNotice(t *testing.T) {
	spec := testcluster.Other()
	spec.Clusters[0].Nodes = spec.Clusters[0].Nodes[:4] // even-sized backbone
	spec.Clusters[1].Nodes = spec.Clusters[1].Nodes[:2] // a 2-node leaf cluster
	inv, err := inventory.Load(testcluster.WriteInventory(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Warnings()) != 2 {
		t.Fatalf("the fixture's warnings: %v", inv.Warnings())
	}
	hub, leaf := spec.Clusters[0], spec.Clusters[1]
	notices := func(r *Report) []string {
		var out []string
		for _, w := range warnings(inv, r) {
			if strings.Contains(w.Message, "dcctl validate") {
				if w.Level != LevelNotice {
					t.Errorf("inventory warnings at level %s", w.Level)
				}
				out = append(out, w.Message)
			}
		}
		return out
	}
	both := &Report{Domains: []*Domain{{Name: hub.Domain, Cluster: hub.Name}, {Name: leaf.Domain, Cluster: leaf.Name}}}
	got := notices(both)
	if len(got) != 1 {
		t.Fatalf("%d notices for the inventory's warnings, want one: %q", len(got), got)
	}
	for _, want := range []string{"the inventory has 2 warnings", inventory.Key("clusters", hub.Name) + " (4 nodes tolerate only 1 failure, like 3)",
		inventory.Key("clusters", leaf.Name) + " (2 nodes)", "dcctl validate " + inv.File} {
		if !strings.Contains(got[0], want) {
			t.Errorf("notice %q lacks %q", got[0], want)
		}
	}
	if strings.Contains(got[0], "recommended") {
		t.Errorf("notice %q carries the warnings in full", got[0])
	}
	hubOnly := notices(&Report{Domains: []*Domain{{Name: hub.Domain, Cluster: hub.Name}}})
	if len(hubOnly) != 1 || !strings.Contains(hubOnly[0], "1 warning:") || strings.Contains(hubOnly[0], leaf.Name) {
		t.Errorf("status of the backbone's domain only: %q", hubOnly)
	}
}
