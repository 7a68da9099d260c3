package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

// A server's name is its JetStream identity: its meta and stream peer id is
// a hash of the name. nats-server routes two servers of one name into one
// cluster without a word, and each then answers for the same peer: acks
// from one are not the other's, and the meta group counts one peer that is
// two (on the lab a publisher on the old server got acks the stream did not
// keep). So provision must never start a node whose name already runs on
// another host: the inventory moved the node, or gave its old host another
// node, while the old server still runs.

// NodeElsewhere is a node provision would start on its host (a first
// install, a stopped unit, or a host that runs another server) while a
// server of its name runs at another address.
type NodeElsewhere struct {
	Node    string
	Cluster string
	At      string // the address the running server of that name is routed from
	Host    string // the host the inventory gives the node now
	Seen    string // who says so: "k1's /routez", or "HOST runs it"
	// OnHost is the inventory node whose host runs it (the old host kept
	// in the inventory for another node), "" when the old host is not in
	// the inventory.
	OnHost string
}

// NodeElsewhereError refuses to start a second server under a name that
// runs already, and says how to move a node.
type NodeElsewhereError struct {
	Nodes   []NodeElsewhere
	Service string
}

// NodeNames are the inventory nodes the refusal concerns: each node to
// start, and each node whose host runs another node's server.
func (e *NodeElsewhereError) NodeNames() []string {
	var out []string
	for _, n := range e.Nodes {
		out = append(out, n.Node)
		if n.OnHost != "" {
			out = append(out, n.OnHost)
		}
	}
	return out
}

func (e *NodeElsewhereError) Error() string {
	var parts []string
	for _, n := range e.Nodes {
		if n.OnHost != "" {
			parts = append(parts, fmt.Sprintf("%s (host %s) runs the server %s of cluster %s, which the inventory now puts on %s: it would turn into %s under %s's JetStream store while %s starts on %s",
				n.OnHost, n.At, n.Node, n.Cluster, n.Host, n.OnHost, n.Node, n.Node, n.Host))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s of cluster %s runs at %s (%s), and the inventory now puts it on %s",
			n.Node, n.Cluster, n.At, n.Seen, n.Host))
	}
	old := e.Nodes[0]
	return fmt.Sprintf("refusing to start a node whose server still runs on another host: %s. "+
		"Two servers under one name are one JetStream peer to their cluster: each acks writes the other does not have (split brain), and the meta group counts one peer that is two. "+
		"To move a node to another host, stop its old server first: before the inventory edit `dcctl node stop NODE`; after it, on the old host (here %s) `systemctl disable --now %s`. "+
		"Then `dcctl provision`: the node starts on the new host on an empty store under its name and takes its meta state and stream replicas from its peers; an R1 stream whose only copy is on the old host is not copied (give it replicas first, or back it up and restore it). "+
		"See \"Moving a node to another host\" in docs/runbooks.md",
		strings.Join(parts, "; "), old.At, e.Service)
}

// CheckNodesElsewhere refuses (a *NodeElsewhereError) to start a node whose
// server name already runs on another host. Two ways to know: a host the
// inventory gives one node runs another node's server (its installed
// config's server_name), read from the facts; and a running peer of a node
// provision would start routes a server of that name from another address,
// read from the peer's /routez. Peers are asked only when a node is to be
// started while some of its cluster runs: a run with nothing to start asks
// nothing.
func CheckNodesElsewhere(ctx context.Context, s *Session, plans []*HostPlan) error {
	var found []NodeElsewhere
	starting := map[string]*HostPlan{}
	for _, p := range plans {
		if p.Facts == nil || p.Unreachable != nil || p.Err != nil {
			continue
		}
		other := runningServerName(s.Inv, p)
		if other != "" && other != p.Node.Name {
			if n := s.Inv.Node(other); n != nil {
				found = append(found, NodeElsewhere{Node: other, Cluster: n.Cluster, At: p.Node.Host, Host: n.Host, Seen: p.Node.Host + " runs it", OnHost: p.Node.Name})
			}
			// and p's node starts there, in place of that server
			starting[p.Node.Name] = p
		}
		if p.Action == ActionStart && !p.LeftStopped && p.Facts.UnitActive != "active" {
			starting[p.Node.Name] = p
		}
	}
	clusters := map[string][]*inventory.Node{}
	for _, p := range starting {
		clusters[p.Node.Cluster] = append(clusters[p.Node.Cluster], p.Node)
	}
	for _, nodes := range clusters {
		routes, peer := s.peerRoutes(ctx, nodes[0], starting, plans)
		for _, n := range nodes {
			for _, r := range routes {
				if r.RemoteName != n.Name || r.IP == n.Addr() || hostHasAddr(ctx, n.Addr(), r.IP) {
					continue
				}
				if slices.ContainsFunc(found, func(f NodeElsewhere) bool { return f.Node == n.Name }) {
					break
				}
				found = append(found, NodeElsewhere{Node: n.Name, Cluster: n.Cluster, At: r.IP, Host: n.Host, Seen: peer + "'s /routez"})
				break
			}
		}
	}
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Node < found[j].Node })
	return &NodeElsewhereError{Nodes: found, Service: s.Inv.NATS.Service}
}

// route is one entry of a server's /routez.
type route struct {
	RemoteName string `json:"remote_name"`
	IP         string `json:"ip"`
}

// peerRoutes is the /routez of the first running peer of n that answers
// (every server of a cluster routes to every other), and its name; none
// when no peer runs or answers: then there is nothing to compare with.
func (s *Session) peerRoutes(ctx context.Context, n *inventory.Node, starting map[string]*HostPlan, plans []*HostPlan) ([]route, string) {
	facts := map[string]*Facts{}
	for _, p := range plans {
		facts[p.Node.Name] = p.Facts
	}
	for _, peer := range s.Inv.Peers(n) {
		if starting[peer.Name] != nil {
			continue
		}
		// A peer outside the plans (--limit) is asked anyway.
		if f, planned := facts[peer.Name]; planned && (f == nil || f.UnitActive != "active") {
			continue
		}
		body, err := s.monitor(ctx, peer.Name, "/routez")
		if err != nil {
			continue
		}
		var rz struct {
			Routes []route `json:"routes"`
		}
		if json.Unmarshal(body, &rz) == nil {
			return rz.Routes, peer.Name
		}
	}
	return nil, ""
}

// hostHasAddr reports whether host, a name, resolves to ip: a route from
// the node's own address is the node itself, not a server elsewhere.
func hostHasAddr(ctx context.Context, host, ip string) bool {
	if net.ParseIP(host) != nil {
		return false
	}
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	return err == nil && slices.Contains(addrs, ip)
}

// runningServerName is the server_name of the config p's host runs now,
// when the plan changes it and the unit is active; "" otherwise.
func runningServerName(inv *inventory.Inventory, p *HostPlan) string {
	if p.Facts.UnitActive != "active" {
		return ""
	}
	config := templates.PathsFor(inv).Config
	for _, fc := range p.Files {
		if fc.File.Path != config || fc.OldConfig == nil {
			continue
		}
		m, err := conf.Parse(includeLine.ReplaceAllString(string(fc.OldConfig), ""))
		if err != nil {
			return ""
		}
		name, _ := m["server_name"].(string)
		return name
	}
	return ""
}
