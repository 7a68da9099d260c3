package provision

import (
	"context"
	"fmt"
)

// restartUnit restarts a node whose change needs it; gateBefore let it go.
type restartUnit struct{}

func (restartUnit) Title() string              { return "restart the unit" }
func (restartUnit) ShouldRun(p *HostPlan) bool { return p.Action == ActionRestart && !p.Upgrade }

func (restartUnit) Script(h *hostRun) string {
	return "systemctl restart " + shellQuote(h.unit())
}

func (restartUnit) Explain(ctx context.Context, h *hostRun, stderr string) error {
	h.s.servesMonitorAt(h.node(), "") // failed to start: if anything, on the new config's port
	return fmt.Errorf("restart: %s%s", stderr, journalTail(ctx, h.c, h.unit(), h.s.Secrets))
}

// Done: restarted, the server answers on the new config's monitoring port.
func (restartUnit) Done(h *hostRun, _ string) { h.s.servesMonitorAt(h.node(), "") }
