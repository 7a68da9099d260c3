package inventory

import (
	"net"
	"sort"
)

// Active lists a cluster's nodes that provision starts (standby ones excluded).
func (cl *Cluster) Active() []*Node {
	var out []*Node
	for _, n := range cl.Nodes {
		if !n.Standby {
			out = append(out, n)
		}
	}
	return out
}

// IsLeaf reports whether the cluster connects to a hub as leaf nodes.
func (cl *Cluster) IsLeaf() bool { return cl.LeafOf != "" }

// HasLeaves reports whether any cluster is a leaf of cl: then cl listens for
// leafnode connections.
func (inv *Inventory) HasLeaves(cl *Cluster) bool {
	for _, other := range inv.Clusters {
		if other.LeafOf == cl.Name {
			return true
		}
	}
	return false
}

// ClusterOf returns the node's cluster.
func (inv *Inventory) ClusterOf(n *Node) *Cluster { return inv.Cluster(n.Cluster) }

// Domain returns the JetStream domain of the node's cluster.
func (inv *Inventory) Domain(n *Node) string {
	if cl := inv.ClusterOf(n); cl != nil {
		return cl.Domain
	}
	return ""
}

// Peers lists the other nodes of n's cluster that n routes to. A standby node
// routes to every member; active nodes do not route to standby ones, whose
// absence would otherwise fill every log with connection errors.
func (inv *Inventory) Peers(n *Node) []*Node {
	cl := inv.ClusterOf(n)
	if cl == nil {
		return nil
	}
	var out []*Node
	for _, p := range cl.Nodes {
		if p.Name == n.Name || (p.Standby && !n.Standby) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// RouteURLs are the cluster route URLs n connects to.
func (inv *Inventory) RouteURLs(n *Node) []string {
	var out []string
	for _, p := range inv.Peers(n) {
		out = append(out, "nats-route://"+net.JoinHostPort(p.Addr(), portString(p.Ports.Cluster)))
	}
	return out
}

// Addr is the address other nodes and clients reach n's listeners on: its
// listen address, or its host when it listens on every interface.
func (n *Node) Addr() string {
	if ip := net.ParseIP(n.Listen); ip != nil && ip.IsUnspecified() {
		return n.Host
	}
	return n.Listen
}

// LeafRemote is one leafnode remote of a leaf cluster: one per account, so
// both the application account and the system account are bridged.
type LeafRemote struct {
	Account string
	User    string
	URLs    []string // nats-leaf://host:port, without credentials
	// InOrder says the URLs are in the order to try them (nats-server's
	// no_randomize): the hub's nodes in the leaf node's own DC first.
	InOrder bool
}

// LeafRemotes lists the remotes a node of a leaf cluster needs, one per
// account that has users, each listing every leafnode URL of the hub.
//
// The hub's nodes in the leaf node's own DC come first, and the remote
// tries them in that order: leaf traffic stays inside the DC, and a cut of
// the link between DCs takes no leaf link down while a hub node of its own
// DC runs. Each leaf node of a DC starts at another of those hub nodes, so
// that the links spread over them. A DC without hub nodes keeps
// nats-server's random choice.
func (inv *Inventory) LeafRemotes(n *Node) []LeafRemote {
	cl := inv.ClusterOf(n)
	if cl == nil || !cl.IsLeaf() {
		return nil
	}
	hub := inv.Cluster(cl.LeafOf)
	if hub == nil {
		return nil
	}
	var near, far []string
	for _, h := range hub.Active() {
		u := "nats-leaf://" + net.JoinHostPort(h.Addr(), portString(h.Ports.Leafnode))
		if h.DC == n.DC {
			near = append(near, u)
		} else {
			far = append(far, u)
		}
	}
	if len(near) > 0 {
		// this node's place among its cluster's nodes in its DC
		i := 0
		for _, m := range cl.Active() {
			if m.Name == n.Name {
				break
			}
			if m.DC == n.DC {
				i++
			}
		}
		i %= len(near)
		near = append(near[i:len(near):len(near)], near[:i]...)
	}
	urls := append(near, far...)
	var out []LeafRemote
	for _, a := range inv.Accounts {
		if len(a.Users) == 0 {
			continue
		}
		out = append(out, LeafRemote{Account: a.Name, User: a.Users[0], URLs: urls, InOrder: len(near) > 0})
	}
	return out
}

// ClientURL is the URL clients use to reach the node.
func (n *Node) ClientURL() string {
	return "nats://" + net.JoinHostPort(n.Addr(), portString(n.Ports.Client))
}

// HTTPAddr is the monitoring endpoint's host:port.
func (n *Node) HTTPAddr() string { return net.JoinHostPort(n.Addr(), portString(n.Ports.HTTP)) }

// MonitorAddr is where n's monitoring endpoint listens: 127.0.0.1 unless the
// inventory opens it on the node's address (nats.monitoring = "host").
func (inv *Inventory) MonitorAddr(n *Node) string {
	if inv.NATS.Monitoring == MonitoringHost {
		return n.HTTPAddr()
	}
	return net.JoinHostPort("127.0.0.1", portString(n.Ports.HTTP))
}

// MonitorHTTPS reports whether the monitoring endpoints speak HTTPS: opened
// on the host address while TLS is on. On 127.0.0.1 only the host itself
// (and dcctl, through SSH) reaches them, so they stay plain HTTP there.
func (inv *Inventory) MonitorHTTPS() bool {
	return inv.TLS.Enabled && inv.NATS.Monitoring == MonitoringHost
}

// SSHAddr is the host:port dcctl dials.
func (n *Node) SSHAddr() string { return net.JoinHostPort(n.Host, portString(n.SSH.Port)) }

// DCs lists data center names, sorted.
func (inv *Inventory) DCs() []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range inv.Nodes {
		if !seen[n.DC] {
			seen[n.DC] = true
			out = append(out, n.DC)
		}
	}
	sort.Strings(out)
	return out
}

// NodesInDC lists the nodes of a data center.
func (inv *Inventory) NodesInDC(dc string) []*Node {
	var out []*Node
	for _, n := range inv.Nodes {
		if n.DC == dc {
			out = append(out, n)
		}
	}
	return out
}

// ClusterByDomain returns the cluster whose JetStream domain is d.
func (inv *Inventory) ClusterByDomain(d string) *Cluster {
	for _, cl := range inv.Clusters {
		if cl.Domain == d {
			return cl
		}
	}
	return nil
}

// Select returns the named nodes, or every node when names is empty.
func (inv *Inventory) Select(names []string) ([]*Node, error) {
	if len(names) == 0 {
		return inv.Nodes, nil
	}
	var out []*Node
	for _, name := range names {
		n := inv.Node(name)
		if n == nil {
			return nil, &UnknownNodeError{Name: name, Inventory: inv.File}
		}
		out = append(out, n)
	}
	return out, nil
}

// UnknownNodeError names a node the inventory does not have.
type UnknownNodeError struct{ Name, Inventory string }

func (e *UnknownNodeError) Error() string {
	return "node " + e.Name + " is not in inventory " + e.Inventory
}
