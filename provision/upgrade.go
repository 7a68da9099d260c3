package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/remote"
)

// An upgrade (a new nats-server release) goes through the deployment in two
// stages. First the new binary is staged beside the installed one on every
// host, as <install_path>.next, verified and run once with --version there,
// while nothing that runs is touched. Then the nodes are swapped one at a
// time, clusters in UpgradeOrder, each cluster's meta leader last: the
// health gate, a step-down if the node leads the meta group, lame-duck stop,
// the swap (the old binary kept as <install_path>.previous), start, the
// health gate again and the release /varz reports. Both `dcctl provision`
// (a changed nats.binary on a running node) and `dcctl runbook upgrade` take
// this path; a rollback swaps .previous back the same way.

// NextSuffix names the staged binary beside the installed one.
const NextSuffix = ".next"

// PreviousSuffix names the binary a swap replaced, kept for a rollback.
const PreviousSuffix = ".previous"

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
	nodes := make([]string, 0, len(e.Running))
	for n := range e.Running {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	var parts []string
	for _, n := range nodes {
		parts = append(parts, n+" runs "+e.Running[n])
	}
	return fmt.Sprintf("the new binary is nats-server %s, a downgrade across minor releases (%s): nats-server supports going back one patch release only; nothing was changed. Use --allow-downgrade if you must (a rollback after an upgrade is `dcctl runbook upgrade --rollback`)",
		e.To, strings.Join(parts, ", "))
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

// UpgradeOrder lists clusters in the order an upgrade goes through them: a
// hub before the clusters that are its leaves, as NATS keeps a newer server
// able to accept an older peer's connection (docs/runbooks.md); a rollback
// goes the other way, so that a hub never runs an older release than its
// leaves. Clusters keep the inventory's order otherwise.
func UpgradeOrder(clusters []*inventory.Cluster, rollback bool) []*inventory.Cluster {
	out := append([]*inventory.Cluster(nil), clusters...)
	sort.SliceStable(out, func(i, j int) bool {
		if rollback {
			return out[i].IsLeaf() && !out[j].IsLeaf()
		}
		return !out[i].IsLeaf() && out[j].IsLeaf()
	})
	return out
}

// LeaderLast orders nodes (one cluster's) so that the current meta leader
// of their domain comes last: the cluster then elects a new leader once,
// among servers already on the new release. When the leader cannot be read
// the order is kept.
func (s *Session) LeaderLast(ctx context.Context, domain string, nodes []*inventory.Node) []*inventory.Node {
	m, err := s.Monitor().Meta(ctx, domain)
	if err != nil || m.Leader == "" {
		return nodes
	}
	var out []*inventory.Node
	var leader *inventory.Node
	for _, n := range nodes {
		if n.Name == m.Leader {
			leader = n
			continue
		}
		out = append(out, n)
	}
	if leader != nil {
		out = append(out, leader)
	}
	return out
}

// StageBinary uploads the local binary to <install_path>.next on node's
// host: verified there by its sha256 and run once with --version, while the
// installed binary and the running server are left alone. sum is the
// binary's sha256 (hex).
func (s *Session) StageBinary(ctx context.Context, node, binary, sum string, progress func(written, total int64)) error {
	c, err := s.Client(ctx, node)
	if err != nil {
		return err
	}
	fh, err := os.Open(binary)
	if err != nil {
		return fmt.Errorf("stage %s: %w", binary, err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("stage %s: %w", binary, err)
	}
	var p func(int64)
	if progress != nil {
		p = func(n int64) { progress(n, st.Size()) }
	}
	f := remote.File{Path: s.Inv.NATS.InstallPath + NextSuffix, Mode: 0o755, Owner: "root", Group: "root",
		Content: fh, SHA256: sum, Size: st.Size(), Check: []string{"--version"}}
	if err := c.Put(ctx, f, p); err != nil {
		return fmt.Errorf("stage the new binary on %s: %w", node, err)
	}
	return nil
}

// StagedSum is the sha256 of the binary staged on node's host, "" when
// there is none.
func (s *Session) StagedSum(ctx context.Context, node string) (string, error) {
	c, err := s.Client(ctx, node)
	if err != nil {
		return "", err
	}
	next := shellQuote(s.Inv.NATS.InstallPath + NextSuffix)
	out, _, err := c.Run(ctx, fmt.Sprintf("if [ -f %[1]s ]; then sha256sum %[1]s | cut -d' ' -f1; fi", next))
	if err != nil {
		return "", fmt.Errorf("staged binary on %s: %w", node, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// InstalledReleases asks node's host which releases its installed binary
// and the one kept as .previous say they are (`--version`, run there: the
// host runs its own binaries); previous is "" when there is none.
func (s *Session) InstalledReleases(ctx context.Context, node string) (installed, previous string, err error) {
	c, err := s.Client(ctx, node)
	if err != nil {
		return "", "", err
	}
	p := s.Inv.NATS.InstallPath
	script := fmt.Sprintf(`v() { "$1" --version 2>/dev/null </dev/null | head -n 1; }
printf 'installed %%s\n' "$(v %[1]s)"
if [ -f %[2]s ]; then printf 'previous %%s\n' "$(v %[2]s)"; fi`, shellQuote(p), shellQuote(p+PreviousSuffix))
	out, _, err := c.Run(ctx, script)
	if err != nil {
		return "", "", fmt.Errorf("installed releases on %s: %w", node, err)
	}
	if v := linesWith(string(out), "installed "); len(v) > 0 {
		installed = versionWord(v[0])
	}
	if v := linesWith(string(out), "previous "); len(v) > 0 {
		previous = versionWord(v[0])
		if previous == "" {
			previous = "unknown"
		}
	}
	return installed, previous, nil
}

// versionWord finds the release in `nats-server --version` output
// ("nats-server: v2.15.2"), without its "v"; "" when there is none.
func versionWord(line string) string {
	for _, f := range strings.Fields(line) {
		if _, err := parseRelease(f); err == nil {
			return strings.TrimPrefix(f, "v")
		}
	}
	return ""
}

// SwapOptions tune SwapBinary.
type SwapOptions struct {
	// Rollback puts <install_path>.previous back instead of swapping
	// <install_path>.next in.
	Rollback bool
	// Want is the release the node must report on /varz afterwards
	// ("2.15.2"); "" skips that check.
	Want string
	// Timeout bounds each health-gate wait; default 3 minutes.
	Timeout time.Duration
	// Log hears each step, one line each.
	Log io.Writer
}

// SwapBinary upgrades (or rolls back) one node behind the health gate: the
// same phases provision runs for a changed nats.binary (rollPhases).
func (s *Session) SwapBinary(ctx context.Context, node string, o SwapOptions) error {
	n := s.Inv.Node(node)
	if n == nil {
		return &inventory.UnknownNodeError{Name: node, Inventory: s.Inv.File}
	}
	c, err := s.Client(ctx, node)
	if err != nil {
		return err
	}
	why := "upgrade: swap in " + s.Inv.NATS.InstallPath + NextSuffix
	if o.Rollback {
		why = "rollback: put " + s.Inv.NATS.InstallPath + PreviousSuffix + " back"
	}
	p := &HostPlan{Node: n, Action: ActionRestart, Upgrade: true, Rollback: o.Rollback, UpgradeTo: o.Want, Why: []string{why}}
	h := &hostRun{s: s, p: p, c: c, log: &lineLog{w: o.Log}, timeout: o.Timeout}
	if h.timeout == 0 {
		h.timeout = 3 * time.Minute
	}
	return runPhases(ctx, h, rollPhases())
}
