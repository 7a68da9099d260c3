package provision

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/dcctl/dcctl/inventory"
)

// ClusterRenamed lists the running nodes that would restart under another
// cluster name than the one they run with. nats-server refuses a route
// from a server that names another cluster, so the first node restarted
// under the new name joins none of its peers, and the rollout stops at its
// gate with the cluster a node short, as with a cluster_port change.
func ClusterRenamed(inv *inventory.Inventory, plans []*HostPlan) []string {
	return restartsWhoseConfig(inv, plans, func(was, now []byte) bool {
		old, cur := clusterName(was), clusterName(now)
		return old != "" && cur != "" && old != cur
	})
}

// clusterName is the cluster block's name in a rendered config.
func clusterName(config []byte) string {
	m, err := conf.Parse(includeLine.ReplaceAllString(string(config), ""))
	if err != nil {
		return ""
	}
	cluster, _ := m["cluster"].(map[string]any)
	name, _ := cluster["name"].(string)
	return name
}

// ClusterRenameRefusedError says why provision will not rename a running
// cluster node by node, and what to do instead.
type ClusterRenameRefusedError struct{ Nodes []string }

func (e *ClusterRenameRefusedError) Error() string {
	return fmt.Sprintf("refusing to rename a running cluster one node at a time (%s): nats-server refuses routes between servers that name different clusters, so the first node restarted under the new name joins none of its peers and the rollout stops at its gate with the cluster a node short. "+
		"Either rename every node at once with `dcctl provision --tls-cutover` (each node that needs a restart restarts at the same time: clients are cut off until the servers are back; acknowledged messages are kept), "+
		"or keep the cluster's name",
		strings.Join(e.Nodes, ", "))
}
