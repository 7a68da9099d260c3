package provision

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/dcctl/dcctl/inventory"
)

// ClusterRenamed lists the running nodes that would restart under another
// cluster name or JetStream domain than the ones they run with.
// nats-server refuses a route from a server that names another cluster, so
// the first node restarted under the new name joins none of its peers; one
// restarted under another domain routes, but never becomes a current peer
// of its cluster's meta group (seen on the lab: offline in it for the
// gate's 3 minutes). Either way the rollout stops at its gate with the
// cluster a node short, as with a cluster_port change.
func ClusterRenamed(inv *inventory.Inventory, plans []*HostPlan) []string {
	return restartsWhoseConfig(inv, plans, func(was, now []byte) bool {
		oldName, oldDomain := clusterNames(was)
		curName, curDomain := clusterNames(now)
		return oldName != "" && curName != "" && oldName != curName ||
			oldDomain != "" && curDomain != "" && oldDomain != curDomain
	})
}

// clusterNames are the cluster block's name and the JetStream domain in a
// rendered config.
func clusterNames(config []byte) (name, domain string) {
	m, err := conf.Parse(includeLine.ReplaceAllString(string(config), ""))
	if err != nil {
		return "", ""
	}
	cluster, _ := m["cluster"].(map[string]any)
	name, _ = cluster["name"].(string)
	js, _ := m["jetstream"].(map[string]any)
	domain, _ = js["domain"].(string)
	return name, domain
}

// ClusterRenameRefusedError says why provision will not rename a running
// cluster node by node, and what to do instead.
type ClusterRenameRefusedError struct{ Nodes []string }

func (e *ClusterRenameRefusedError) Error() string {
	return fmt.Sprintf("refusing to rename a running cluster or its JetStream domain one node at a time (%s): nats-server refuses routes between servers that name different clusters, and a server under another domain never becomes a current peer of its cluster's meta group, so the first node restarted under the new name stays apart and the rollout stops at its gate with the cluster a node short. "+
		"Either rename every node at once with `dcctl provision --tls-cutover` (each node that needs a restart restarts at the same time: clients are cut off until the servers are back; acknowledged messages are kept, and a new domain's streams are the old domain's: clients must then name the new domain), "+
		"or keep the cluster's name and domain",
		strings.Join(e.Nodes, ", "))
}
