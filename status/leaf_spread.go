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

// leafSpreadNote says, when the accepted leafnode links are uneven (more
// than one apart), how they are spread and that this is no fault; "" when
// they are even.
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
	most, least := d.LeafLinksAccepted[names[0]], d.LeafLinksAccepted[names[len(names)-1]]
	if most-least <= 1 {
		return ""
	}
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s %d", name, d.LeafLinksAccepted[name])
	}
	return fmt.Sprintf("Leafnode links accepted per server are uneven (%s): nats-server does not move a link once it is made, so after restarts links gather on the servers that stayed up. Not a fault; see docs/status.md to spread them again.", strings.Join(parts, ", "))
}
