package templates

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/dcctl/dcctl/inventory"
)

type graphNode struct {
	Name    string
	Standby bool
}

// graphGroup is the part of one cluster inside one DC: a cluster spanning
// two DCs (the backbone) is drawn in both.
type graphGroup struct {
	ID, Label, Color string
	Nodes            []graphNode
}

type graphDC struct {
	Name   string
	Groups []graphGroup
}

type graphEdge struct {
	From, To, FromGroup, ToGroup, Label string
}

var groupColors = []string{"#fde9c9", "#d9ecd0", "#dde6f6", "#f3d9e8", "#e6e0f3", "#d6f0ef"}

// Graph draws the inventory's topology as Graphviz DOT: each DC a box of
// its clusters' nodes with their JetStream domains, routes within clusters
// and the leaf links of each account.
func Graph(inv *inventory.Inventory) []byte {
	color := map[string]string{}
	for i, cl := range inv.Clusters {
		color[cl.Name] = groupColors[i%len(groupColors)]
	}
	groupID := func(cluster, dc string) string { return "cluster_" + cluster + "_in_" + dc }
	var dcs []graphDC
	for _, dc := range inv.DCs() {
		d := graphDC{Name: dc}
		for _, cl := range inv.Clusters {
			g := graphGroup{ID: groupID(cl.Name, dc), Color: color[cl.Name]}
			g.Label = fmt.Sprintf("cluster %s\ndomain %s", cl.Name, cl.Domain)
			if cl.IsLeaf() {
				g.Label += "\nleaf of " + cl.LeafOf
			}
			for _, n := range cl.Nodes {
				if n.DC == dc {
					g.Nodes = append(g.Nodes, graphNode{n.Name, n.Standby})
				}
			}
			if len(g.Nodes) > 0 {
				d.Groups = append(d.Groups, g)
			}
		}
		dcs = append(dcs, d)
	}
	var routes []graphEdge
	for _, cl := range inv.Clusters {
		act := cl.Active()
		for i := range act {
			for j := i + 1; j < len(act); j++ {
				routes = append(routes, graphEdge{From: act[i].Name, To: act[j].Name})
			}
		}
	}
	// One edge per leaf cluster, DC and account: from the leaf's group to the
	// hub's nodes in the same DC (or any hub node when it has none there).
	var leaves []graphEdge
	for _, cl := range inv.Clusters {
		if !cl.IsLeaf() {
			continue
		}
		hub := inv.Cluster(cl.LeafOf)
		seen := map[string]bool{}
		for _, n := range cl.Active() {
			if seen[n.DC] {
				continue
			}
			seen[n.DC] = true
			target := hub.Active()[0]
			for _, h := range hub.Active() {
				if h.DC == n.DC {
					target = h
					break
				}
			}
			for _, r := range inv.LeafRemotes(n) {
				leaves = append(leaves, graphEdge{From: n.Name, To: target.Name,
					FromGroup: groupID(cl.Name, n.DC), ToGroup: groupID(hub.Name, target.DC),
					Label: "leaf " + r.Account})
			}
		}
	}
	var buf bytes.Buffer
	d := struct {
		Name    string
		DCs     []graphDC
		Routes  []graphEdge
		Leaves  []graphEdge
		DCLinks []graphEdge
	}{filepath.Base(inv.File), dcs, routes, leaves, dcLinks(inv, dcs)}
	if err := tmpl.ExecuteTemplate(&buf, "topology.dot.tmpl", d); err != nil {
		// the template is embedded and fed only strings: a failure is a bug
		panic(fmt.Sprintf("graph template: %v", err))
	}
	return buf.Bytes()
}

// dcLinks draws one edge per pair of data centers, box to box: the link a
// partition cuts, labelled with what crosses it (the routes of clusters
// spanning both, the leafnode links of leaf clusters whose hub has nodes in
// the other DC).
func dcLinks(inv *inventory.Inventory, dcs []graphDC) []graphEdge {
	var out []graphEdge
	for i := range dcs {
		for j := i + 1; j < len(dcs); j++ {
			a, b := dcs[i], dcs[j]
			if len(a.Groups) == 0 || len(b.Groups) == 0 {
				continue
			}
			var routes, leafs []string
			for _, cl := range inv.Clusters {
				in := func(dc string) bool {
					for _, n := range cl.Active() {
						if n.DC == dc {
							return true
						}
					}
					return false
				}
				if !cl.IsLeaf() && in(a.Name) && in(b.Name) {
					routes = append(routes, cl.Name)
				}
				if cl.IsLeaf() {
					hub := inv.Cluster(cl.LeafOf)
					hubIn := func(dc string) bool {
						for _, n := range hub.Active() {
							if n.DC == dc {
								return true
							}
						}
						return false
					}
					if (in(a.Name) && hubIn(b.Name)) || (in(b.Name) && hubIn(a.Name)) {
						leafs = append(leafs, cl.Name)
					}
				}
			}
			label := fmt.Sprintf("DC link %s - %s", a.Name, b.Name)
			if len(routes) > 0 {
				label += "\nroutes of " + strings.Join(routes, ", ")
			}
			if len(leafs) > 0 {
				label += "\nleaf links of " + strings.Join(leafs, ", ")
			}
			out = append(out, graphEdge{From: a.Groups[0].Nodes[0].Name, To: b.Groups[0].Nodes[0].Name,
				FromGroup: "cluster_dc_" + a.Name, ToGroup: "cluster_dc_" + b.Name, Label: label})
		}
	}
	return out
}
