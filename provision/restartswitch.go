package provision

import (
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

// restartsWhoseConfig lists the running nodes a rollout would restart whose
// config changes in a way switched reports (given the installed and the new
// config): the changes that cannot roll node by node are found this way.
func restartsWhoseConfig(inv *inventory.Inventory, plans []*HostPlan, switched func(was, now []byte) bool) []string {
	paths := templates.PathsFor(inv)
	var out []string
	for _, p := range plans {
		if p.Facts == nil || p.Action != ActionRestart {
			continue
		}
		for _, fc := range p.Files {
			if fc.File.Path == paths.Config && fc.OldConfig != nil && switched(fc.OldConfig, fc.File.Content) {
				out = append(out, p.Node.Name)
				break
			}
		}
	}
	return out
}
