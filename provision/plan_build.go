package provision

import (
	"context"
	"sync"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

// Plan gathers facts from every given node's host, in parallel, and plans
// each one. A host that cannot be reached gets a plan with Unreachable set;
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
	type want struct{ dirs, files []templates.File }
	wants := map[string]want{}
	for _, n := range nodes {
		dirs, files, err := desired(s.Inv, s.Secrets, bin, n.Name)
		if err != nil {
			return nil, err
		}
		wants[n.Name] = want{dirs, files}
	}
	dialErrs := s.Connect(ctx, nodes)
	plans := make([]*HostPlan, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		if e := dialErrs[n.Name]; e != nil {
			plans[i] = &HostPlan{Node: n, Unreachable: e}
			continue
		}
		wg.Add(1)
		go func(i int, n *inventory.Node) {
			defer wg.Done()
			c, err := s.Client(ctx, n.Name)
			if err != nil {
				plans[i] = &HostPlan{Node: n, Unreachable: err}
				return
			}
			w := wants[n.Name]
			var paths, dirs []string
			for _, f := range w.files {
				paths = append(paths, f.Path)
			}
			for _, d := range w.dirs {
				dirs = append(dirs, d.Path)
			}
			facts, err := gatherFacts(ctx, c, s.Inv.NATS.User, s.Inv.NATS.Service, markerPath(s.Inv), sumsPath(s.Inv), paths, dirs)
			if err != nil {
				plans[i] = &HostPlan{Node: n, Unreachable: err}
				return
			}
			fetch := func(ctx context.Context, path string) ([]byte, error) {
				out, _, err := c.Run(ctx, "cat "+shellQuote(path))
				return out, err
			}
			p, err := planHost(ctx, s.Inv, s.Secrets, n, w.dirs, w.files, facts, fetch)
			if err != nil {
				p = &HostPlan{Node: n, Facts: facts, Err: err}
			}
			plans[i] = p
		}(i, n)
	}
	wg.Wait()
	facts := map[string]*Facts{}
	for _, p := range plans {
		facts[p.Node.Name] = p.Facts
	}
	if err := checkArch(s.Inv, target, facts); err != nil {
		return nil, err
	}
	return plans, nil
}
