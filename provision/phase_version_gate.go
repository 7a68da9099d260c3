package provision

import (
	"context"
	"fmt"

	"github.com/dcctl/dcctl/jetstream"
)

// versionAfter is the upgrade's last gate: the swapped node's server reports
// the release it was meant to run (/varz). A binary that was swapped but is
// not what runs (the unit starts another path, a crash loop restarted an
// old process) stops the rollout here.
type versionAfter struct{}

func (versionAfter) Title() string { return "gate: the running release" }
func (versionAfter) ShouldRun(p *HostPlan) bool {
	return p.Upgrade && p.Action == ActionRestart && p.UpgradeTo != ""
}

func (versionAfter) Run(ctx context.Context, h *hostRun) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	var got string
	err := jetstream.Poll(ctx, gatePoll, func() (err error) {
		got, err = h.s.RunningVersion(ctx, h.node())
		if err == nil && got != h.p.UpgradeTo {
			err = fmt.Errorf("it reports %s", got)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("%s does not run nats-server %s: %w", h.node(), h.p.UpgradeTo, err)
	}
	h.say("runs nats-server " + got)
	return nil
}
