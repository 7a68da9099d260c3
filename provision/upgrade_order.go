package provision

import (
	"context"
	"sort"

	"github.com/dcctl/dcctl/inventory"
)

// UpgradeOrder lists clusters in the order an upgrade goes through them: a
// hub before the clusters that are its leaves, as NATS keeps a newer server
// able to accept an older peer's connection (docs/runbooks.md); a rollback
// goes the other way, so that a hub never runs an older release than its
// leaves. Clusters keep the inventory's order otherwise.
func UpgradeOrder(clusters []*inventory.Cluster, rollback bool) []*inventory.Cluster {
	out := append([]*inventory.Cluster(nil), clusters...)
	sort.SliceStable(out, func(i, j int) bool {
		if rollback {
			return out[i].IsLeaf() && !out[j].IsLeaf()
		}
		return !out[i].IsLeaf() && out[j].IsLeaf()
	})
	return out
}

// LeaderLast orders nodes (one cluster's) so that the current meta leader
// of their domain comes last: the cluster then elects a new leader once,
// among servers already on the new release. When the leader cannot be read
// the order is kept.
func (s *Session) LeaderLast(ctx context.Context, domain string, nodes []*inventory.Node) []*inventory.Node {
	m, err := s.Monitor().Meta(ctx, domain)
	if err != nil || m.Leader == "" {
		return nodes
	}
	var out []*inventory.Node
	var leader *inventory.Node
	for _, n := range nodes {
		if n.Name == m.Leader {
			leader = n
			continue
		}
		out = append(out, n)
	}
	if leader != nil {
		out = append(out, leader)
	}
	return out
}
