package inventory_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// A backbone node and a leaf node on one host, on other ports (an outside
// audit's inventory): both would be written to the one unit, config_dir and
// store_dir of [nats], so the second replaced the first on the host while
// validate said OK. One problem, at the second node's host, naming both and
// the inventory's own unit and directories. The same address on another SSH
// port (a jump host's forward) is another machine and stays valid.
func TestOneHostRunsOneNode(t *testing.T) {
	nats := withNATS("service = \"natsd\"\nconfig_dir = \"/etc/natsd\"\nstore_dir = \"/srv/natsd\"\n")
	second := "\n[nodes.l2]\ncluster = \"HUB\"\ndc = \"a\"\nhost = \"10.0.0.4\"\nclient_port = 5222\ncluster_port = 6333\nleafnode_port = 7333\nhttp_port = 8333\n"
	_, err := inventory.Load(writeInv(t, nats+second))
	var ie *inventory.Error
	if !errors.As(err, &ie) {
		t.Fatalf("two nodes on one host: want *inventory.Error, got %v", err)
	}
	if len(ie.Problems) != 1 {
		t.Fatalf("two nodes on one host: %v, want one problem", ie.Problems)
	}
	p := ie.Problems[0]
	for _, want := range []string{"node l1 runs on 10.0.0.4 already", "natsd.service", "/etc/natsd", "/srv/natsd", "give l2 a host of its own"} {
		if p.Key != "nodes.l2.host" || !strings.Contains(p.Msg, want) {
			t.Errorf("problem %s, want one at nodes.l2.host containing %q", p, want)
		}
	}

	forwarded := strings.Replace(second, "host = \"10.0.0.4\"\n", "host = \"10.0.0.4\"\nssh_port = 2202\nlisten = \"10.0.0.5\"\n", 1)
	if _, err := inventory.Load(writeInv(t, nats+forwarded)); err != nil {
		t.Errorf("one address, another SSH port: %v, want valid", err)
	}
}
