package provision

import "context"

// waitHealthy waits until a node started for the first time is what status
// calls up: /healthz 200, a current meta peer as the leader sees it, and a
// leaf node's leafnode links to the hub. A new cluster elects its meta
// leader only once enough of its nodes are up, so this waits for all of
// them together.
type waitHealthy struct{}

func (waitHealthy) Title() string              { return "wait for the first install to be healthy" }
func (waitHealthy) ShouldRun(p *HostPlan) bool { return p.Action == ActionStart }

func (waitHealthy) Run(ctx context.Context, h *hostRun) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	if err := h.s.WaitHealthz(ctx, h.node()); err != nil {
		return err
	}
	if err := h.s.WaitMetaCurrent(ctx, h.node()); err != nil {
		return err
	}
	h.say("healthy (/healthz 200, current meta peer)")
	return h.s.WaitLeafLinks(ctx, h.node(), logLinks(h.log, h.node()))
}
