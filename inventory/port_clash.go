package inventory

import (
	"fmt"
	"net"
	"strings"
)

// portClash is one of a node's listeners whose port another node binds
// already on the same machine.
type portClash struct {
	key, name string // nodes.N.client_port, client_port
	port      int
	other     string // the node that binds it
}

// reportClashes says once per other node what clashes: a node given another
// node's address (a copied table) clashes on every port, and one error
// naming both nodes says so better than one per port. A single port
// clashing keeps its own error, at that port's key.
func reportClashes(c *collector, n *Node, listeners int, clashes []portClash) {
	var others []string
	byOther := map[string][]portClash{}
	for _, cl := range clashes {
		if byOther[cl.other] == nil {
			others = append(others, cl.other)
		}
		byOther[cl.other] = append(byOther[cl.other], cl)
	}
	for _, other := range others {
		list := byOther[other]
		if len(list) == 1 {
			c.addf(list[0].key, "%s:%d is already used by node %s", n.Listen, list[0].port, other)
			continue
		}
		ports := make([]string, len(list))
		for i, cl := range list {
			ports[i] = fmt.Sprintf("%d (%s)", cl.port, cl.name)
		}
		what := joinAnd(ports)
		if len(list) == listeners {
			what += ": every listener"
		}
		c.addf(addressKey(n), "node %s binds %s on the same ports as node %s: %s; give one of them another host or listen address, or other ports",
			n.Name, boundAddress(n), other, what)
	}
}

// addressKey is where a node's address is written: listen when it has one
// of its own, else host.
func addressKey(n *Node) string {
	if n.Listen != n.Host {
		return Key("nodes", n.Name, "listen")
	}
	return Key("nodes", n.Name, "host")
}

// boundAddress is the address a node's listeners bind, in words.
func boundAddress(n *Node) string {
	if ip := net.ParseIP(n.Listen); ip != nil && ip.IsUnspecified() {
		return "every interface of " + n.Host
	}
	return n.Listen
}

func joinAnd(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
