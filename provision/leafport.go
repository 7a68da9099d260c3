package provision

import (
	"fmt"
	"net"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/dcctl/dcctl/inventory"
)

// A hub cluster's new leafnode_port rolls like any restart, but its leaf
// clusters' links cannot follow node by node: a leaf node's remotes name
// the hub's nodes on the old port until the leaf node itself restarts with
// new ones. While the hub rolls, the links move to the hub nodes not yet
// restarted; from the last one's restart no hub node listens where the
// remotes point, and each leaf node is without links (its account's
// messages do not cross between the leaf and the hub) until its own
// restart. provision rolls the hub first and each leaf cluster after it,
// one node at a time, each done once its links are up (on the lab, a
// publisher on a leaf cluster saw publishes fail in that window). The plan
// says so on the nodes concerned.

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
		note := fmt.Sprintf("leafnode port of cluster %s changes: the links of leaf %s %s move to %s's nodes not yet restarted, and are down from the last one's restart until each leaf node restarts with remotes on the new port",
			hub, clusterWord(len(leaves)), strings.Join(leaves, ", "), hub)
		switch {
		case len(planned) == 1:
			note += fmt.Sprintf("; provision restarts %s's nodes one at a time first, then %s's, one at a time, every leaf node done once its links are up", hub, planned[0])
		case len(planned) > 1:
			note += fmt.Sprintf("; provision restarts %s's nodes one at a time first, then those of %s side by side, one at a time in each, every leaf node done once its links are up", hub, strings.Join(planned, " and "))
		}
		if len(absent) > 0 {
			note += fmt.Sprintf("; %s %s not restarted by this run (--limit, or unreachable): %s links stay down until `dcctl provision` restarts %s nodes",
				strings.Join(absent, ", "), isAre(len(absent)), theirIts(len(absent)), theirIts(len(absent)))
		}
		for _, p := range plans {
			if containsName(nodes, p.Node.Name) {
				p.Why = append(p.Why, note)
			}
		}
		for _, p := range plans {
			if cl := inv.Cluster(p.Node.Cluster); cl != nil && cl.LeafOf == hub && p.Action == ActionRestart {
				p.Why = append(p.Why, fmt.Sprintf("its remotes move to cluster %s's new leafnode port: restarted after %s's rollout; its links to %s are down from the last %s node's restart until this restart", hub, hub, hub, hub))
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
