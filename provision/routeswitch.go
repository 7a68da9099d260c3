package provision

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/dcctl/dcctl/inventory"
)

// RoutePortSwitch lists the running nodes that would restart with a route
// to every peer on another port than the one the peer listens on now (a
// cluster_port changed for the whole cluster). Such a node dials its peers
// where they do not listen until their own restart, and they still dial its
// old port: it joins nobody, never becomes a current meta peer, and the
// rollout stops at its gate with the cluster one node short (seen on the
// lab). A node whose own port alone changes is not named: its peers reload
// their routes to it, and it still reaches them where they are.
func RoutePortSwitch(inv *inventory.Inventory, plans []*HostPlan) []string {
	return restartsWhoseConfig(inv, plans, func(was, now []byte) bool {
		old, cur := routePorts(was), routePorts(now)
		same, moved := 0, 0
		for host, port := range cur {
			switch was, ok := old[host]; {
			case !ok:
			case was == port:
				same++
			default:
				moved++
			}
		}
		return moved > 0 && same == 0
	})
}

// routePorts maps each route's host to its port in a rendered config.
func routePorts(config []byte) map[string]string {
	out := map[string]string{}
	m, err := conf.Parse(includeLine.ReplaceAllString(string(config), ""))
	if err != nil {
		return out
	}
	cluster, _ := m["cluster"].(map[string]any)
	routes, _ := cluster["routes"].([]any)
	for _, r := range routes {
		s, _ := r.(string)
		if u, err := url.Parse(s); err == nil && u.Hostname() != "" {
			out[u.Hostname()] = u.Port()
		}
	}
	return out
}

// RoutePortSwitchRefusedError says why provision will not roll a change of
// a cluster's route port node by node, and what to do instead.
type RoutePortSwitchRefusedError struct{ Nodes []string }

func (e *RoutePortSwitchRefusedError) Error() string {
	return fmt.Sprintf("refusing to move running nodes to another cluster_port one at a time (%s): a node restarted first dials its peers on the new port, where they do not listen until their own restart, and they still dial its old one, so it joins nobody and the rollout stops at its gate with the cluster a node short. "+
		"Either move every node at once with `dcctl provision --tls-cutover` (each node that needs a restart restarts at the same time: clients are cut off until the servers are back, typically well under a minute; acknowledged messages are kept), "+
		"or keep cluster_port as it is",
		strings.Join(e.Nodes, ", "))
}
