package provision

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

// ServiceRenamed finds the nodes whose applied marker (what dcctl last
// started them with) names another systemd unit than the inventory's
// service: the service was renamed. provision would install and start the
// new unit beside the old one, which still runs the node on the same ports
// and store, so the new one cannot start; and every node would start at
// once, not one at a time. Returns nil when no node has another unit.
func ServiceRenamed(inv *inventory.Inventory, plans []*HostPlan) *ServiceRenamedError {
	unit := templates.PathsFor(inv).Unit
	e := &ServiceRenamedError{New: path.Base(unit), Marker: markerPath(inv)}
	for _, p := range plans {
		if p.Facts == nil {
			continue
		}
		for applied := range p.Facts.Applied {
			if path.Dir(applied) == path.Dir(unit) && strings.HasSuffix(applied, ".service") && applied != unit {
				e.Nodes = append(e.Nodes, p.Node.Name)
				e.Old = path.Base(applied)
				break
			}
		}
	}
	if len(e.Nodes) == 0 {
		return nil
	}
	sort.Strings(e.Nodes)
	return e
}

// ServiceRenamedError says why provision will not start a renamed unit
// beside the old one, and how to rename it node by node.
type ServiceRenamedError struct {
	Nodes    []string
	Old, New string
	Marker   string // the applied marker that names the old unit
}

func (e *ServiceRenamedError) Error() string {
	oldName := strings.TrimSuffix(e.Old, ".service")
	return fmt.Sprintf("refusing to install %s beside %s, which runs the node on %s now: the new unit would start on the ports and store the old one holds and fail, on every node at once. "+
		"To rename the service, one node at a time: on its host `systemctl disable --now %s && rm /etc/systemd/system/%s %s && systemctl daemon-reload` (the last is dcctl's record of the unit it started), then `dcctl provision --limit NODE` (it installs and starts %s), and `dcctl status` healthy before the next; "+
		"or keep service = %q",
		e.New, e.Old, strings.Join(e.Nodes, ", "), oldName, e.Old, e.Marker, e.New, oldName)
}
