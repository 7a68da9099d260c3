package provision

import (
	"context"
	"strings"
)

// reloadUnit has a node re-read a config whose changes are all
// hot-reloadable (SIGHUP): no restart, so no gate before it.
type reloadUnit struct{}

func (reloadUnit) Title() string              { return "reload the unit" }
func (reloadUnit) ShouldRun(p *HostPlan) bool { return p.Action == ActionReload }

func (reloadUnit) Script(h *hostRun) string {
	return "systemctl reload " + shellQuote(h.unit())
}

func (reloadUnit) Done(h *hostRun, _ string) {
	h.say("reloaded (" + strings.Join(h.p.Why, "; ") + ")")
}

// healthyAfterReload waits until a reloaded node answers /healthz.
type healthyAfterReload struct{}

func (healthyAfterReload) Title() string              { return "wait for /healthz after the reload" }
func (healthyAfterReload) ShouldRun(p *HostPlan) bool { return p.Action == ActionReload }

func (healthyAfterReload) Run(ctx context.Context, h *hostRun) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	return h.s.WaitHealthz(ctx, h.node())
}
