package provision

import (
	"context"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// runningNodePlans gives the fixture's inventory and a planner of node on a
// host that runs the fixture's files unchanged: plan(edit) is what provision
// would do there after edit changes the inventory's text.
func runningNodePlans(t *testing.T, node string) (*inventory.Inventory, func(edit func(string) string) *HostPlan) {
	t.Helper()
	inv, sec, bin := fixture(t, nil)
	dirs, files, err := desired(inv, sec, bin, node)
	if err != nil {
		t.Fatal(err)
	}
	running, fetch := hostWith(files, dirs)
	return inv, func(edit func(string) string) *HostPlan {
		t.Helper()
		inv2, sec2, bin2 := fixture(t, edit)
		dirs2, files2, err := desired(inv2, sec2, bin2, node)
		if err != nil {
			t.Fatal(err)
		}
		p, err := planHost(context.Background(), inv2, sec2, inv2.Node(node), dirs2, files2, running, fetch)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}
