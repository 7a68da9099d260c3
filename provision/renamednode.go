package provision

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dcctl/dcctl/inventory"
)

// A node renamed on its own host ([nodes.A] now [nodes.B], same host) would
// restart as B on A's JetStream store. Peer ids are hashes of server names:
// A stays an offline peer of its meta group (counted by every quorum), and
// the store's raft state and stream replicas are A's, read by a server that
// is not A. Nothing of that is what the operator meant, so provision
// refuses and says how to do it: retire A first, or keep the name.

// NodeRenamed is a host whose running server has a name the inventory no
// longer lists, while the inventory gives the host another node.
type NodeRenamed struct {
	Node string // the inventory's node on the host now
	Host string
	Was  string // the running server's name
}

// NodeRenamedError refuses to restart a running server under a new name.
type NodeRenamedError struct {
	Nodes      []NodeRenamed
	Store      string // store_dir, to empty after the retire
	StopMarker string // the marker the retire leaves, to remove by hand
}

// NodeNames are the inventory nodes the refusal concerns.
func (e *NodeRenamedError) NodeNames() []string {
	var out []string
	for _, n := range e.Nodes {
		out = append(out, n.Node)
	}
	return out
}

func (e *NodeRenamedError) Error() string {
	var parts []string
	for _, n := range e.Nodes {
		parts = append(parts, fmt.Sprintf("%s (host %s) runs the server %s, which the inventory no longer lists: it would restart as %s on %s's JetStream store",
			n.Node, n.Host, n.Was, n.Node, n.Was))
	}
	n := e.Nodes[0]
	return fmt.Sprintf("refusing to rename a running node: %s. "+
		"A server's name is its JetStream peer id: %s would stay an offline peer of its meta group, counted by every quorum, and the store's meta and stream state is %s's, not %s's. "+
		"Either keep the name (put [nodes.%s] back), or retire the old name first: with [nodes.%s] still in the inventory, `dcctl node stop %s`, then `dcctl runbook replace-peer %s --permanent` (its replicas move to the other servers, it leaves the meta group), "+
		"then on its host empty %s and remove the stop marker %s (the unit stays disabled), then rename the node in the inventory and run `dcctl provision`: %s starts as a new server. "+
		"See \"Renaming a node\" in docs/runbooks.md",
		strings.Join(parts, "; "), n.Was, n.Was, n.Node, n.Was, n.Was, n.Was, n.Was, e.Store, e.StopMarker, n.Node)
}

// NodesRenamed refuses (a *NodeRenamedError) to restart a running server
// under another name: a host of the inventory whose active unit runs a
// config naming a server the inventory does not list. Read from the facts
// (the installed config's server_name) alone. A fresh host, a stopped unit
// and a host that runs its own node are not named; a host that runs another
// node of the inventory is CheckNodesElsewhere's.
func NodesRenamed(inv *inventory.Inventory, plans []*HostPlan) *NodeRenamedError {
	var found []NodeRenamed
	for _, p := range plans {
		if p.Facts == nil || p.Unreachable != nil || p.Err != nil {
			continue
		}
		was := runningServerName(inv, p)
		if was == "" || was == p.Node.Name || inv.Node(was) != nil {
			continue
		}
		found = append(found, NodeRenamed{Node: p.Node.Name, Host: p.Node.Host, Was: was})
	}
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Node < found[j].Node })
	return &NodeRenamedError{Nodes: found, Store: inv.NATS.StoreDir, StopMarker: stopMarkerPath(inv)}
}
