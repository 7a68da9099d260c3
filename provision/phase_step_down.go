package provision

import (
	"context"
	"fmt"

	"github.com/dcctl/dcctl/jetstream"
)

// stepDown hands the meta leadership of the node's domain to another server
// before an upgrade stops the node that holds it: the rollout orders each
// cluster's leader last, and a leader moved by a step-down is elected among
// servers already swapped. Lame duck would move it too; a step-down that
// fails is a warning, not a reason to stop.
type stepDown struct{}

func (stepDown) Title() string              { return "meta leader step-down" }
func (stepDown) ShouldRun(p *HostPlan) bool { return p.Upgrade && p.Action == ActionRestart }

func (stepDown) Run(ctx context.Context, h *hostRun) error {
	domain := h.s.Inv.Domain(h.p.Node)
	mon := h.s.Monitor()
	m, err := mon.Meta(ctx, domain)
	if err != nil || m.Leader != h.node() {
		return nil
	}
	h.say("meta leader of domain " + domain + ": stepping down first")
	nc, err := h.s.NATS(ctx)
	if err == nil {
		err = nc.MetaStepDown(ctx, domain, "")
	}
	if err == nil {
		wctx, cancel := context.WithTimeout(ctx, h.timeout)
		defer cancel()
		err = jetstream.Poll(wctx, gatePoll, func() error {
			m, err := mon.Meta(wctx, domain)
			switch {
			case err != nil:
				return err
			case m.Leader == "" || m.Leader == h.node():
				return fmt.Errorf("meta leader is %q", m.Leader)
			}
			h.say("meta leader is now " + m.Leader)
			return nil
		})
	}
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		h.say("warning: meta leader step-down: " + err.Error() + " (lame duck moves the leadership instead)")
	}
	return nil
}
