package status

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/jetstream"
)

// acceptsLeafs reports whether some leaf cluster of the inventory connects
// to cl.
func acceptsLeafs(inv *inventory.Inventory, cl *inventory.Cluster) bool {
	for _, o := range inv.Clusters {
		if o.LeafOf == cl.Name {
			return true
		}
	}
	return false
}

// acceptedLeafLinks counts the leafnode connections each answering server of
// cl accepted (the hub side of a link).
func acceptedLeafLinks(cl *inventory.Cluster, leafs []jetstream.ServerLeafnodes) map[string]int {
	member := map[string]bool{}
	for _, n := range cl.Nodes {
		member[n.Name] = true
	}
	out := map[string]int{}
	for _, sl := range leafs {
		if !member[sl.Server] {
			continue
		}
		n := 0
		for _, l := range sl.Leafs {
			if !l.Spoke {
				n++
			}
		}
		out[sl.Server] = n
	}
	return out
}

// leafHome is where a hub cluster's leaf links belong: a leaf node's
// remotes try its own DC's hub servers first, so while they run its links
// end there, spread over them.
type leafHome struct {
	dc    map[string]string // hub server -> its DC
	links map[string]int    // DC -> links its leaf nodes make
}

// leafHomes says where cl's leaf links belong, or nil when some leaf node's
// DC has no hub server (its links may go to any DC's).
func leafHomes(inv *inventory.Inventory, cl *inventory.Cluster) *leafHome {
	h := &leafHome{dc: map[string]string{}, links: map[string]int{}}
	hubDCs := map[string]bool{}
	for _, n := range cl.Nodes {
		h.dc[n.Name] = n.DC
		if !n.Standby {
			hubDCs[n.DC] = true
		}
	}
	for _, o := range inv.Clusters {
		if o.LeafOf != cl.Name {
			continue
		}
		for _, n := range o.Active() {
			if !hubDCs[n.DC] {
				return nil
			}
			h.links[n.DC] += len(inv.LeafRemotes(n))
		}
	}
	return h
}

// leafSpreadNote says, when the accepted leafnode links are uneven, how
// they are spread and that this is no fault; "" when they are even. With
// leaf nodes in DCs that have hub servers, even means: within each DC its
// hub servers no more than one link apart, and no DC's hub servers holding
// more links than its own leaf nodes make (links from another DC). Hub
// servers of a DC without leaf nodes hold none, as they should: a leaf
// cluster in one DC is not "uneven" across the other DC's hub servers.
func (d *Domain) leafSpreadNote() string {
	if len(d.LeafLinksAccepted) < 2 {
		return ""
	}
	names := make([]string, 0, len(d.LeafLinksAccepted))
	for name := range d.LeafLinksAccepted {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := d.LeafLinksAccepted[names[i]], d.LeafLinksAccepted[names[j]]
		return a > b || a == b && names[i] < names[j]
	})
	if !d.linksUneven(names) {
		return ""
	}
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s %d", name, d.LeafLinksAccepted[name])
	}
	return fmt.Sprintf("Leafnode links accepted per server are uneven (%s): nats-server does not move a link once it is made, so after restarts links gather on the servers that stayed up. Not a fault; see docs/status.md to spread them again.", strings.Join(parts, ", "))
}

// linksUneven judges the spread of the links over names (most first).
func (d *Domain) linksUneven(names []string) bool {
	apart := func(group []string) bool {
		return len(group) > 1 && d.LeafLinksAccepted[group[0]]-d.LeafLinksAccepted[group[len(group)-1]] > 1
	}
	if d.leafHome == nil {
		return apart(names)
	}
	perDC := map[string][]string{}
	held := map[string]int{}
	for _, name := range names {
		dc, ok := d.leafHome.dc[name]
		if !ok {
			return apart(names) // a server the inventory does not place
		}
		perDC[dc] = append(perDC[dc], name)
		held[dc] += d.LeafLinksAccepted[name]
	}
	for dc, group := range perDC {
		if apart(group) || held[dc] > d.leafHome.links[dc] {
			return true
		}
	}
	return false
}
