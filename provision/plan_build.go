package provision

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/remote"
	"github.com/dcctl/dcctl/templates"
	"github.com/dcctl/dcctl/words"
)

// Plan gathers facts from every given node's host, in parallel, and plans
// each one. A host that cannot be reached gets a plan with Unreachable set,
// one that answered but could not be asked (its facts command failed) Err;
// any other error (bad binary path, a binary built for another architecture
// than a host's, rendering) stops before touching anything.
func Plan(ctx context.Context, s *Session, nodes []*inventory.Node) ([]*HostPlan, error) {
	bin, err := binaryFile(s.Inv)
	if err != nil {
		return nil, err
	}
	target, err := binaryTarget(s.Inv.NATS.Binary)
	if err != nil {
		return nil, err
	}
	type want struct {
		dirs, files []templates.File
		facts       string
	}
	wants := map[string]want{}
	for _, n := range nodes {
		dirs, files, facts, err := s.desiredFor(bin, n.Name)
		if err != nil {
			return nil, err
		}
		wants[n.Name] = want{dirs, files, facts}
	}
	dialErrs := s.Connect(ctx, nodes)
	plans := make([]*HostPlan, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		if e := dialErrs[n.Name]; e != nil {
			plans[i] = &HostPlan{Node: n, Unreachable: e}
			continue
		}
		wg.Go(func() {
			c, err := s.Client(ctx, n.Name)
			if err != nil {
				plans[i] = &HostPlan{Node: n, Unreachable: err}
				return
			}
			w := wants[n.Name]
			facts, err := hostFacts(ctx, s, c, w.facts)
			var answered *remote.ExitError
			if errors.As(err, &answered) {
				// The host ran the command and it failed (sudo wants a
				// password, say): a failed host, not an unreachable one.
				plans[i] = &HostPlan{Node: n, Err: err}
				return
			}
			if err != nil {
				plans[i] = &HostPlan{Node: n, Unreachable: err}
				return
			}
			p, err := planHost(ctx, s.Inv, s.Secrets, n, w.dirs, w.files, facts, fetcher(c))
			if err != nil {
				p = &HostPlan{Node: n, Facts: facts, Err: err}
			}
			plans[i] = p
		})
	}
	wg.Wait()
	noteLeafPortMoves(s.Inv, plans)
	facts := map[string]*Facts{}
	for _, p := range plans {
		facts[p.Node.Name] = p.Facts
	}
	if err := checkArch(s.Inv, target, facts); err != nil {
		return nil, err
	}
	if v, err := ReadBinaryVersion(s.Inv.NATS.Binary); err == nil {
		for _, p := range plans {
			if p.Upgrade {
				p.UpgradeTo = v.Release()
			}
		}
	}
	return plans, nil
}

// CheckUpgrade refuses a run that would upgrade running nodes (plans with
// Upgrade) to a release it cannot name from nats.binary's build
// information, or to an older minor release than one of them runs unless
// allowDowngrade (a *DowngradeError). Read-only: provision calls it before
// anything is uploaded, and so does `--check`.
func CheckUpgrade(ctx context.Context, s *Session, plans []*HostPlan, allowDowngrade bool) error {
	var nodes []string
	for _, p := range plans {
		if p.Upgrade {
			nodes = append(nodes, p.Node.Name)
			if p.ServingMonitor != "" {
				s.servesMonitorAt(p.Node.Name, p.ServingMonitor)
			}
		}
	}
	if len(nodes) == 0 {
		return nil
	}
	v, err := ReadBinaryVersion(s.Inv.NATS.Binary)
	if err != nil {
		return fmt.Errorf("nats.binary changes on %s: %w", words.Count(len(nodes), "running node"), err)
	}
	_, err = s.CheckVersions(ctx, nodes, v, allowDowngrade)
	return err
}

// fetcher reads a file's current content on the host, for diffs.
func fetcher(c *remote.Client) func(ctx context.Context, path string) ([]byte, error) {
	return func(ctx context.Context, path string) ([]byte, error) {
		out, _, err := c.Run(ctx, "cat "+shellQuote(path))
		return out, err
	}
}
