package status

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// TestLeafSpreadPerDC: leaf links belong on the hub servers of the leaf
// node's own DC. A leaf cluster in one DC leaves the other DC's hub
// servers without links, as it should: no "uneven" note for that (an
// outside audit's 3/2 backbone with one leaf cluster in the 2-node DC was
// told "uneven (n1 6, n2 6, s1 0, s2 0, s3 0) ... spread them again").
// Links gathered on one server of a DC, or gone to another DC's hub
// servers, are still uneven.
func TestLeafSpreadPerDC(t *testing.T) {
	oneDC := `
[nats]
binary = "x"

[accounts.APP]
jetstream = true
users = ["app"]

[accounts.SYS]
system = true
users = ["admin"]

[clusters.trunk]
domain = "trunk"

[clusters.pier]
domain = "pier"
leaf_of = "trunk"
`
	for i, n := range []string{"s1 trunk south", "s2 trunk south", "s3 trunk south", "n1 trunk north", "n2 trunk north", "p1 pier north", "p2 pier north", "p3 pier north"} {
		f := strings.Fields(n)
		oneDC += "\n[nodes." + f[0] + "]\ncluster = \"" + f[1] + "\"\ndc = \"" + f[2] + "\"\nhost = \"10.0.0." + string(rune('1'+i)) + "\"\n"
	}
	p := filepath.Join(t.TempDir(), "inv.toml")
	if err := os.WriteFile(p, []byte(oneDC), 0o644); err != nil {
		t.Fatal(err)
	}
	one, err := inventory.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	two, err := inventory.Load("../inventory/example.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		inv      *inventory.Inventory
		hub      string
		accepted map[string]int
		uneven   bool
	}{
		// 3 leaf nodes x 2 accounts = 6 links, on north's two hub servers
		{"one DC's leaves on its own hub servers", one, "trunk", map[string]int{"n1": 3, "n2": 3, "s1": 0, "s2": 0, "s3": 0}, false},
		{"gathered on one server of the DC", one, "trunk", map[string]int{"n1": 6, "n2": 0, "s1": 0, "s2": 0, "s3": 0}, true},
		{"gone to the other DC", one, "trunk", map[string]int{"n1": 2, "n2": 2, "s1": 1, "s2": 1, "s3": 0}, true},
		{"two DCs, each on its own", two, "BB", map[string]int{"bb_emea_1": 3, "bb_emea_2": 3, "bb_us_1": 3, "bb_us_2": 3}, false},
		{"two DCs, gathered in one", two, "BB", map[string]int{"bb_emea_1": 5, "bb_emea_2": 1, "bb_us_1": 3, "bb_us_2": 3}, true},
		{"two DCs, crossing", two, "BB", map[string]int{"bb_emea_1": 4, "bb_emea_2": 4, "bb_us_1": 2, "bb_us_2": 2}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Domain{LeafLinksAccepted: tc.accepted, leafHome: leafHomes(tc.inv, tc.inv.Cluster(tc.hub))}
			if d.leafHome == nil {
				t.Fatal("no leaf home: every leaf DC has hub servers")
			}
			note := d.leafSpreadNote()
			if got := note != ""; got != tc.uneven {
				t.Errorf("uneven %v, want %v: %q", got, tc.uneven, note)
			}
		})
	}
}
