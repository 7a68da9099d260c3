package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dcctl/dcctl/jetstream"
)

// A leaf cluster's node answers /healthz 200 before it has made its
// leafnode links to the hub (one per account, each dialled on its own
// schedule), and until then that account's messages do not cross between
// the clusters: provision is not done with a leaf node before every link
// is up. The links are read from the node's own monitoring endpoint through
// the SSH connection, like /healthz: no NATS credentials are involved, so a
// run that changes passwords cannot lock its own check out.

// WaitLeafLinks polls node's /leafz until it has a leafnode connection to
// its hub cluster for every remote its config has (one per account with
// users), or ctx ends. A node of a cluster that is not a leaf cluster has
// none to wait for. linked, if not nil, hears the accounts once all are up.
func (s *Session) WaitLeafLinks(ctx context.Context, node string, linked func(accounts []string)) error {
	n := s.Inv.Node(node)
	if n == nil {
		return fmt.Errorf("leafnode links of %s: not in the inventory", node)
	}
	remotes := s.Inv.LeafRemotes(n)
	if len(remotes) == 0 {
		return nil
	}
	hub := s.Inv.ClusterOf(n).LeafOf
	err := jetstream.Poll(ctx, nodePoll, func() error {
		up, err := s.leafAccounts(ctx, node)
		if err != nil {
			return err
		}
		var missing, accounts []string
		for _, r := range remotes {
			accounts = append(accounts, r.Account)
			if !up[r.Account] {
				missing = append(missing, r.Account)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("no leafnode link to cluster %s for account %s yet", hub, strings.Join(missing, ", "))
		}
		if linked != nil {
			linked(accounts)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w (messages of that account do not cross between %s and %s: check that %s's leafnode port is reachable from %s)",
			node, err, n.Cluster, hub, hub, node)
	}
	return nil
}

// leafAccounts reads node's /leafz and returns the accounts that have a
// leafnode connection this node solicited (to its hub).
func (s *Session) leafAccounts(ctx context.Context, node string) (map[string]bool, error) {
	body, err := s.monitor(ctx, node, "/leafz")
	if err != nil {
		return nil, err
	}
	var lz struct {
		Leafs []struct {
			IsSpoke bool   `json:"is_spoke"`
			Account string `json:"account"`
		} `json:"leafs"`
	}
	if err := json.Unmarshal(body, &lz); err != nil {
		return nil, fmt.Errorf("%s /leafz: %w", node, err)
	}
	up := map[string]bool{}
	for _, l := range lz.Leafs {
		if l.IsSpoke {
			up[l.Account] = true
		}
	}
	return up, nil
}
