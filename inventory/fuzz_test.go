package inventory_test

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// FuzzParse: no input makes the loader panic. Bad input is refused with an
// *inventory.Error whose every problem names the file, a line inside it and
// what is wrong; input that is accepted holds what every user of an
// inventory takes for granted (one system account, every node in a cluster
// that lists it, unique names, ports in range).
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	if ex, err := os.ReadFile("example.toml"); err == nil {
		f.Add(ex)
	}
	f.Add([]byte("[nodes.x]\nclient_port = 99999999999999999999\n"))
	f.Add([]byte("[[nodes]]\n"))
	f.Add([]byte("accounts = [1, 2]\n[clusters]\nA = 1\n"))
	f.Add([]byte("[clusters.A\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "/tmp/fuzz.toml"
		inv, err := inventory.Parse(file, data)
		if err != nil {
			if inv != nil {
				t.Fatal("an inventory returned together with an error")
			}
			var ie *inventory.Error
			if !errors.As(err, &ie) || len(ie.Problems) == 0 {
				t.Fatalf("refused with %T %q, want an *inventory.Error with problems", err, err)
			}
			lines := bytes.Count(data, []byte("\n")) + 1
			for _, p := range ie.Problems {
				if p.File != file || p.Msg == "" || p.Line < 0 || p.Line > lines {
					t.Fatalf("problem %+v: want file %s, a line in 0..%d and a message", p, file, lines)
				}
			}
			return
		}
		if inv == nil {
			t.Fatal("nil inventory without error")
		}
		if inv.File != file || inv.SystemAccount() == nil || len(inv.JetStreamAccounts()) == 0 {
			t.Fatalf("accepted inventory without its file or its accounts: %+v", inv)
		}
		for _, n := range inv.Nodes {
			if inv.Node(n.Name) != n {
				t.Fatalf("node %q is not the one found by its name", n.Name)
			}
			cl := inv.Cluster(n.Cluster)
			if cl == nil || !slices.Contains(cl.Nodes, n) {
				t.Fatalf("node %s: cluster %q does not list it", n.Name, n.Cluster)
			}
			for _, p := range []int{n.SSH.Port, n.Ports.Client, n.Ports.Cluster, n.Ports.Leafnode, n.Ports.HTTP} {
				if p < 1 || p > 65535 {
					t.Fatalf("node %s accepted with port %d", n.Name, p)
				}
			}
		}
	})
}
