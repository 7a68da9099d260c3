package provision

import (
	"fmt"
	"net"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/dcctl/dcctl/inventory"
)

// A hub cluster's new leafnode_port rolls like any restart. Its leaf
// clusters' links follow it without their own restart: each hub node's
// restart drops the links on it for a moment, and they reconnect to
// another hub node, on the new port too, since the hub's nodes announce
// their leafnode URLs to the leaf nodes linked to them (nats-server adds
// those to a remote's configured URLs). On the lab the polled leaf nodes
// kept their links through the whole hub rollout, but for a second or two
// at each restart of the hub node they were on. The leaf nodes still
// restart afterwards, after the hub's rollout, for remotes that name the new
// port: a leaf node restarted with the old ones (for any reason, once every
// hub node moved) reaches no hub node. The plan says so on the nodes
// concerned, and what a run that leaves the leaves out (--limit) leaves
// behind.

// noteLeafPortMoves adds that word to the plans of the hub nodes whose
// leafnode port moves and of their leaf clusters' nodes.
func noteLeafPortMoves(inv *inventory.Inventory, plans []*HostPlan) {
	moved := map[string][]string{} // hub cluster -> its nodes whose port moves
	for _, name := range restartsWhoseConfig(inv, plans, func(was, now []byte) bool {
		o, n := leafListenPort(was), leafListenPort(now)
		return o != "" && n != "" && o != n
	}) {
		n := inv.Node(name)
		if n == nil {
			continue
		}
		moved[n.Cluster] = append(moved[n.Cluster], name)
	}
	for hub, nodes := range moved {
		var leaves, planned, absent []string
		for _, cl := range inv.Clusters {
			if cl.LeafOf != hub {
				continue
			}
			leaves = append(leaves, cl.Name)
			if leafClusterRestarts(plans, cl) {
				planned = append(planned, cl.Name)
			} else {
				absent = append(absent, cl.Name)
			}
		}
		if len(leaves) == 0 {
			continue
		}
		note := fmt.Sprintf("leafnode port of cluster %s changes: each of its nodes' restarts drops the links of leaf %s %s on it for a moment (they reconnect to another %s node, on the new port too: the hub's nodes announce it to their leaf nodes)",
			hub, clusterWord(len(leaves)), strings.Join(leaves, ", "), hub)
		switch {
		case len(planned) == 1:
			note += fmt.Sprintf("; provision restarts %s's nodes one at a time first, then %s's, one at a time, every leaf node done once its links are up, so that their remotes name the new port", hub, planned[0])
		case len(planned) > 1:
			note += fmt.Sprintf("; provision restarts %s's nodes one at a time first, then those of %s side by side, one at a time in each, every leaf node done once its links are up, so that their remotes name the new port", hub, strings.Join(planned, " and "))
		}
		if len(absent) > 0 {
			note += fmt.Sprintf("; %s %s not restarted by this run (--limit, or unreachable): %s links keep to the port the hub announced, but a node of %s that restarts before `dcctl provision` gives it the new remotes reaches no %s node",
				strings.Join(absent, ", "), isAre(len(absent)), theirIts(len(absent)), themIt(len(absent)), hub)
		}
		for _, p := range plans {
			if containsName(nodes, p.Node.Name) {
				p.Why = append(p.Why, note)
			}
		}
		for _, p := range plans {
			if cl := inv.Cluster(p.Node.Cluster); cl != nil && cl.LeafOf == hub && p.Action == ActionRestart {
				p.Why = append(p.Why, fmt.Sprintf("its remotes move to cluster %s's new leafnode port: restarted after %s's rollout (its links stay up meanwhile, on the port %s's nodes announce)", hub, hub, hub))
			}
		}
	}
}

// leafClusterRestarts reports whether plans restart any node of cl.
func leafClusterRestarts(plans []*HostPlan, cl *inventory.Cluster) bool {
	for _, p := range plans {
		if p.Node.Cluster == cl.Name && p.Action == ActionRestart {
			return true
		}
	}
	return false
}

// leafListenPort is the port of a rendered config's leafnodes listen, ""
// when it has none (a leaf cluster's config) or cannot be read.
func leafListenPort(config []byte) string {
	m, err := conf.Parse(includeLine.ReplaceAllString(string(config), ""))
	if err != nil {
		return ""
	}
	ln, _ := m["leafnodes"].(map[string]any)
	listen, _ := ln["listen"].(string)
	if listen == "" {
		return ""
	}
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	return port
}

func containsName(list []string, name string) bool {
	for _, x := range list {
		if x == name {
			return true
		}
	}
	return false
}

func clusterWord(n int) string {
	if n == 1 {
		return "cluster"
	}
	return "clusters"
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func theirIts(n int) string {
	if n == 1 {
		return "its"
	}
	return "their"
}

func themIt(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}
