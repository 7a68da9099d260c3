package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
	"github.com/dcctl/dcctl/templates"
)

// floorRun is the no-op's one-round-trip floor on the simulated hosts, as
// bench/run.sh measures it on the lab: every host dialled (the same SSH
// client and host-key check as dcctl), then one short facts script per host
// (the stamp, the marker, the user, the files' and directories' stat, the
// unit's state), --concurrency at a time. No lock, no plan: what any tool
// that looks at every host once must pay here.
func floorRun(ctx context.Context, invPath string, concurrency int) (time.Duration, float64, error) {
	t0, cpu0 := time.Now(), selfCPU()
	inv, err := inventory.Load(invPath)
	if err != nil {
		return 0, 0, err
	}
	s := provision.NewSession(inv, nil, provision.SessionOptions{Concurrency: concurrency, DialTimeout: 10 * time.Second})
	defer s.Close()
	if err := firstError(s.Connect(ctx, inv.Nodes)); err != nil {
		return 0, 0, fmt.Errorf("floor: connect: %w", err)
	}
	p := templates.PathsFor(inv)
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	script := fmt.Sprintf("cat %[1]s/.dcctl-sums %[1]s/.dcctl-applied 2>/dev/null; id -u %[2]s; uname -m\n"+
		"stat -c '%%s %%Y %%Z %%i %%a %%U %%G %%n' %[3]s %[4]s %[5]s %[6]s %[1]s %[7]s 2>/dev/null\n"+
		"systemctl is-enabled %[8]s; systemctl is-active %[8]s; true",
		q(inv.NATS.ConfigDir), q(inv.NATS.User), q(inv.NATS.InstallPath), q(p.Config), q(p.LeafRemotes), q(p.Unit), q(inv.NATS.StoreDir), q(inv.NATS.Service))
	sem := make(chan struct{}, max(concurrency, 1))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, n := range inv.Nodes {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := s.Client(ctx, name)
			if err == nil {
				_, _, err = c.Run(ctx, script)
			}
			if err != nil {
				mu.Lock()
				first = fmt.Errorf("floor: %s: %w", name, err)
				mu.Unlock()
			}
		}(n.Name)
	}
	wg.Wait()
	return time.Since(t0), selfCPU() - cpu0, first
}
