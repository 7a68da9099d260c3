package inventory_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// A node given another node's address clashes on every port: one problem
// names both nodes, not one per port. Clashes with two different nodes stay
// apart, each naming its node.
func TestCopiedAddressIsOneProblem(t *testing.T) {
	problems := func(t *testing.T, text string) []inventory.Problem {
		t.Helper()
		_, err := inventory.Load(writeInv(t, text))
		var ie *inventory.Error
		if !errors.As(err, &ie) {
			t.Fatalf("want *inventory.Error, got %v", err)
		}
		return ie.Problems
	}
	copied := base + "\n[nodes.l2]\ncluster = \"LEAF\"\ndc = \"a\"\nhost = \"10.0.0.5\"\nlisten = \"10.0.0.4\"\n"
	got := problems(t, copied)
	if len(got) != 1 || got[0].Key != "nodes.l2.listen" || !strings.Contains(got[0].Msg, "node l2 binds 10.0.0.4 on the same ports as node l1") {
		t.Errorf("a copied address: %v, want one problem at nodes.l2.listen naming l2 and l1", got)
	}

	// l3 shares its client port with l1 and its HTTP port with l2, all
	// three on one address (of two other machines: one host runs one
	// node): two different clashes, two problems.
	two := base + "client_port = 4001\nhttp_port = 8001\ncluster_port = 6001\nleafnode_port = 7001\n" +
		"\n[nodes.l2]\ncluster = \"LEAF\"\ndc = \"a\"\nhost = \"10.0.0.5\"\nlisten = \"10.0.0.4\"\nclient_port = 4002\nhttp_port = 8002\ncluster_port = 6002\nleafnode_port = 7002\n" +
		"\n[nodes.l3]\ncluster = \"LEAF\"\ndc = \"a\"\nhost = \"10.0.0.6\"\nlisten = \"10.0.0.4\"\nclient_port = 4001\nhttp_port = 8002\ncluster_port = 6003\nleafnode_port = 7003\n"
	got = problems(t, two)
	want := map[string]string{"nodes.l3.client_port": "10.0.0.4:4001 is already used by node l1", "nodes.l3.http_port": "10.0.0.4:8002 is already used by node l2"}
	if len(got) != len(want) {
		t.Errorf("clashes with two nodes: %v, want %d problems", got, len(want))
	}
	for _, p := range got {
		if w, ok := want[p.Key]; !ok || !strings.Contains(p.Msg, w) {
			t.Errorf("problem %s, want one of %v", p, want)
		}
	}
}
