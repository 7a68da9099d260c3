package provision

import (
	"context"
	"fmt"
	"strings"
)

// startUnit starts a first install (enabled by the install script,
// enableUnit) or a node found down.
type startUnit struct{}

func (startUnit) Title() string              { return "start the unit" }
func (startUnit) ShouldRun(p *HostPlan) bool { return p.Action == ActionStart }

func (startUnit) Script(h *hostRun) string {
	return "systemctl start " + shellQuote(h.unit())
}

func (startUnit) Explain(ctx context.Context, h *hostRun, stderr string) error {
	return fmt.Errorf("start %s: %s%s", h.unit(), stderr, journalTail(ctx, h.c, h.unit(), h.s.Secrets))
}

func (startUnit) Done(h *hostRun, _ string) {
	h.say("started " + h.unit() + " (" + strings.Join(h.p.Why, "; ") + ")")
}
