package provision

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
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
