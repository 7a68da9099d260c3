package provision

import (
	"context"
	"fmt"
	"strings"

	"github.com/dcctl/dcctl/graceful"
)

// gateBefore waits until the node's cluster can lose it: meta quorum and
// every stream's current copies survive its restart.
type gateBefore struct{}

func (gateBefore) Title() string              { return "gate before the restart" }
func (gateBefore) ShouldRun(p *HostPlan) bool { return p.Action == ActionRestart }

func (gateBefore) Run(ctx context.Context, h *hostRun) error {
	h.say("gate: checking the cluster can lose " + h.node())
	// Nothing has changed on the node yet: a stop request (the first
	// Ctrl-C) ends this wait at once, and no restart starts after it.
	err := graceful.BeforeChange(ctx, func(ctx context.Context) error {
		return h.s.GateBefore(ctx, h.node(), h.timeout, func(w string) { h.say("warning: " + w) }, h.say)
	})
	if err != nil {
		return err
	}
	h.say("restarting (" + strings.Join(h.p.Why, "; ") + ")")
	return nil
}

// gateAfter waits until the restarted node is healthy, a current meta peer,
// and its stream replicas are current.
type gateAfter struct{}

func (gateAfter) Title() string              { return "gate after the restart" }
func (gateAfter) ShouldRun(p *HostPlan) bool { return p.Action == ActionRestart }

func (gateAfter) Run(ctx context.Context, h *hostRun) error {
	if err := h.s.GateAfter(ctx, h.node(), h.timeout, h.say); err != nil {
		return fmt.Errorf("%w%s", err, journalTail(ctx, h.c, h.unit(), h.s.Secrets))
	}
	h.say("back: healthy, current meta peer, replicas current")
	return nil
}

// leafLinksUp waits until a restarted leaf node's leafnode links are up
// again.
type leafLinksUp struct{}

func (leafLinksUp) Title() string              { return "wait for leafnode links" }
func (leafLinksUp) ShouldRun(p *HostPlan) bool { return p.Action == ActionRestart }

func (leafLinksUp) Run(ctx context.Context, h *hostRun) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	return h.s.WaitLeafLinks(ctx, h.node(), logLinks(h.log, h.node()))
}
