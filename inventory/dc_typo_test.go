package inventory_test

import (
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// dcInv is a valid inventory whose three HUB nodes are in the DCs given.
func dcInv(dc1, dc2, dc3 string) string {
	return strings.NewReplacer("DC1", dc1, "DC2", dc2, "DC3", dc3).Replace(`
[nats]
binary = "bin/nats-server"

[accounts.APP]
jetstream = true
users = ["app"]

[accounts.SYS]
system = true
users = ["admin"]

[clusters.HUB]
domain = "hub"

[nodes.h1]
cluster = "HUB"
dc = "DC1"
host = "10.0.0.1"

[nodes.h2]
cluster = "HUB"
dc = "DC2"
host = "10.0.0.2"

[nodes.h3]
cluster = "HUB"
dc = "DC3"
host = "10.0.0.3"

[nodes.h4]
cluster = "HUB"
dc = "DC1"
host = "10.0.0.4"

[nodes.h5]
cluster = "HUB"
dc = "DC2"
host = "10.0.0.5"
`)
}

// A misspelt dc is a new data center the inventory cannot refuse (there is
// no list of DCs): validate warns at the key's line, naming the DC it is
// one slip from. Names that differ in a digit, or a lone third DC with a
// name of its own, are designs, not typos.
func TestWarningDCTypo(t *testing.T) {
	for _, tc := range []struct {
		name, dc1, dc2, dc3 string
		want                string // "" for no warning
	}{
		{"swapped letters", "north", "south", "nroth", `nodes.h3.dc: data center "nroth" is this node's alone and one letter from "north" (2 nodes): a typo?`},
		{"letter left out", "north", "south", "suth", `nodes.h3.dc: data center "suth" is this node's alone and one letter from "south" (2 nodes)`},
		{"letter added", "ams", "fra", "frax", `nodes.h3.dc: data center "frax" is this node's alone and one letter from "fra"`},
		{"letter replaced", "us-east", "eu-west", "us-easr", `"us-easr" is this node's alone and one letter from "us-east"`},
		{"a digit apart", "fra1", "fra2", "fra3", ""},
		{"a digit more", "fra", "iad", "fra2", ""},
		{"a third DC of its own", "north", "south", "witness", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := inventory.Load(writeInv(t, dcInv(tc.dc1, tc.dc2, tc.dc3)))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range inv.Warnings() {
				if strings.HasSuffix(w.Key, ".dc") {
					got = append(got, w.String())
					if w.Line != 28 {
						t.Errorf("warning at line %d, want 28 (h3's dc): %s", w.Line, w)
					}
				}
			}
			all := strings.Join(got, "\n")
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("want no dc warning, got:\n%s", all)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(all, tc.want)):
				t.Errorf("want one warning containing %q, got:\n%s", tc.want, all)
			}
		})
	}
}
