package main

import "github.com/dcctl/dcctl/inventory"

// contextDomain is the JetStream domain a natscli context names, for the
// servers of its URL list. Without one, natscli sends $JS.API.* and the
// server it happened to connect to answers for its own domain: `nats
// stream ls` would list one domain's streams now and another's on the next
// run.
//
// Servers all in one domain: that domain. Servers of a hub and its leaf
// clusters: the hub's domain, which every one of them reaches through the
// leafnode link of the context's account, so that the answer no longer
// depends on the server picked (another domain is one --js-domain away).
// The system user's context gets no domain then: natscli filters its
// server reports by the context's domain, and that context is for the
// whole deployment. Servers of two hubs not linked by leaf nodes: no
// domain, since none is reachable from all of them.
func contextDomain(inv *inventory.Inventory, nodes []*inventory.Node, system bool) string {
	domains := map[string]bool{}
	roots := map[string]bool{}
	for _, n := range nodes {
		cl := inv.ClusterOf(n)
		if cl == nil {
			continue
		}
		domains[cl.Domain] = true
		root := cl
		if cl.IsLeaf() {
			if hub := inv.Cluster(cl.LeafOf); hub != nil {
				root = hub
			}
		}
		roots[root.Domain] = true
	}
	switch {
	case len(domains) == 1:
		for d := range domains {
			return d
		}
	case system || len(roots) != 1:
		return ""
	}
	for d := range roots {
		return d
	}
	return ""
}
