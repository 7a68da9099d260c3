package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/dcctl/dcctl/inventory"
)

// An upgrade's pre-checks on the running deployment: what release each
// server runs (its /varz, read like the health gate over SSH), and whether
// the new binary is built for every host's architecture.

// RunningVersion is the release node's running server reports on /varz
// ("2.15.2").
func (s *Session) RunningVersion(ctx context.Context, node string) (string, error) {
	body, err := s.monitor(ctx, node, "/varz")
	if err != nil {
		return "", err
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("%s /varz: %w", node, err)
	}
	if v.Version == "" {
		return "", fmt.Errorf("%s /varz names no version", node)
	}
	return v.Version, nil
}

// DowngradeError refuses an upgrade to an older minor or major release than
// some server runs: nats-server supports going back one patch release, and a
// store written by a newer minor release may not be readable by an older one.
type DowngradeError struct {
	To      string            // the new binary's release
	Running map[string]string // node -> its release, only the newer ones
}

func (e *DowngradeError) Error() string {
	// Grouped by release, a few names each: a deployment of hundreds of
	// servers on one release is one short line, not one entry per server.
	by := map[string][]string{}
	for n, v := range e.Running {
		by[v] = append(by[v], n)
	}
	releases := make([]string, 0, len(by))
	for v := range by {
		releases = append(releases, v)
	}
	sort.Strings(releases)
	var parts []string
	for _, v := range releases {
		nodes := by[v]
		sort.Strings(nodes)
		const shown = 4
		switch {
		case len(nodes) == 1:
			parts = append(parts, nodes[0]+" runs "+v)
		case len(nodes) <= shown:
			parts = append(parts, strings.Join(nodes, ", ")+" run "+v)
		default:
			parts = append(parts, fmt.Sprintf("%d servers run %s: %s and %d more", len(nodes), v, strings.Join(nodes[:shown], ", "), len(nodes)-shown))
		}
	}
	return fmt.Sprintf("the new binary is nats-server %s, a downgrade across minor releases (%s): nats-server supports going back one patch release only; nothing was changed. Use --allow-downgrade if you must (a rollback after an upgrade is `dcctl runbook upgrade --rollback`)",
		e.To, strings.Join(parts, "; "))
}

// CheckVersions reads every given node's running release (/varz) and refuses
// with a *DowngradeError when to is older by a minor or major release than
// any of them, unless allowDowngrade. It returns what each node runs.
func (s *Session) CheckVersions(ctx context.Context, nodes []string, to BinaryVersion, allowDowngrade bool) (map[string]string, error) {
	want, err := parseRelease(to.NATS)
	if err != nil {
		return nil, err
	}
	running := make(map[string]string, len(nodes))
	errs := make([]error, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			v, err := s.RunningVersion(ctx, n)
			if err != nil {
				errs[i] = fmt.Errorf("cannot read the release %s runs (its /varz): %w", n, err)
				return
			}
			mu.Lock()
			running[n] = v
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return running, err
		}
	}
	down := &DowngradeError{To: to.Release(), Running: map[string]string{}}
	for n, v := range running {
		r, err := parseRelease(v)
		if err != nil {
			return running, fmt.Errorf("%s: %w", n, err)
		}
		if want.compare(r) < 0 && want.acrossMinor(r) {
			down.Running[n] = v
		}
	}
	if len(down.Running) > 0 && !allowDowngrade {
		return running, down
	}
	return running, nil
}

// CheckBinaryArch refuses (an *ArchMismatchError) a binary that cannot run
// on some of the nodes' hosts, asking each host's `uname -m`.
func (s *Session) CheckBinaryArch(ctx context.Context, binary string, nodes []*inventory.Node) error {
	target, err := binaryTarget(binary)
	if err != nil {
		return err
	}
	s.Connect(ctx, nodes)
	facts := make(map[string]*Facts, len(nodes))
	errs := make([]error, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			c, err := s.Client(ctx, n.Name)
			if err != nil {
				errs[i] = err
				return
			}
			out, _, err := c.Run(ctx, "uname -m")
			if err != nil {
				errs[i] = fmt.Errorf("architecture of %s: %w", n.Name, err)
				return
			}
			mu.Lock()
			facts[n.Name] = &Facts{Arch: strings.TrimSpace(string(out))}
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if err := checkArch(s.Inv, target, facts); err != nil {
		if e, ok := err.(*ArchMismatchError); ok {
			e.Binary = binary
		}
		return err
	}
	return nil
}
