package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dcctl/dcctl/graceful"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/remote"
	"github.com/dcctl/dcctl/templates"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Concurrency bounds how many hosts are worked on at once; < 1: all.
	Concurrency int
	// GateTimeout bounds each health-gate wait; default 3 minutes.
	GateTimeout time.Duration
	// Log receives one line per step, prefixed with the node name.
	Log io.Writer
	// Upload, if not nil, hears how far each host's binary upload got; it
	// is called from many goroutines.
	Upload func(node string, written, total int64)
	// Cutover restarts every node that needs a restart at the same time,
	// without the gate before (the cluster is not expected to keep
	// quorum), then waits for each to be back: for a change that cannot
	// roll, such as turning TLS on (see TLSSwitch).
	Cutover bool
	// Trace, if not nil, hears when each phase started on each host and how
	// long it took (seconds since Apply started): where a run's time goes.
	Trace io.Writer
}

// Apply carries out the plans: files and units on every host in parallel,
// then restarts one node at a time per cluster behind the health gate, then
// waits for freshly started nodes to be healthy. It never stops early for
// one host's failure, except that a cluster's rollout stops at the first
// node that fails its gate: the next node is not touched. A stop requested
// on ctx (graceful: the operator's first Ctrl-C) lets the hosts under way
// finish what they do (a restart with its gate after it; a node started
// is still waited for) and starts nothing more; a cancelled ctx (a second
// Ctrl-C, the deployment lock lost) stops it too, cutting short what is
// under way. The recap's errors carry the cause.
//
// Each step is a list of phases (phase.go) run on each host it concerns;
// adding a phase is adding a small type and naming it in one of these lists.
func Apply(ctx context.Context, s *Session, plans []*HostPlan, o ApplyOptions) *Recap {
	if o.GateTimeout == 0 {
		o.GateTimeout = 3 * time.Minute
	}
	start := time.Now()
	a := &applyRun{s: s, plans: plans, o: o, r: newRecap(plans), log: &lineLog{w: o.Log}}
	if o.Trace != nil {
		a.trace = &tracer{log: &lineLog{w: o.Trace}, start: start}
	}

	// 1. Files, units and enables, on every host that changes, in parallel.
	a.inParallel(ctx, installPhases())
	// 2. First installs start together once every host has its files: a
	// new cluster's nodes then come up at once, on hosts no longer busy
	// with uploads, rather than trickling in behind the slowest uploads.
	a.firstInstalls(ctx, "start", false, startPhases())
	// 3. Rolling restarts and reloads, clusters in parallel, one node at a
	// time within a cluster; or, for a cutover, every restart at once,
	// then the waits.
	if o.Cutover {
		a.cutover(ctx)
	}
	a.rolling(ctx, rollPhases())
	// 4. Nodes started for the first time must come up healthy.
	a.firstInstalls(ctx, "wait for a healthy start", true, []phase{waitHealthy{}})

	a.r.Seconds = time.Since(start).Seconds()
	return a.r
}

// installPhases put a host's files, directories and unit in place; nothing
// is started or restarted. Two commands on the host (the first script, the
// second script) with the uploads over SFTP beside and after the first;
// over exec each upload is a command of its own. The uploads are flushed
// by the second script, beside its checks. Where the sftp-server renames
// (OpenSSH's: posix-rename@openssh.com), the renames go over SFTP instead
// of a `mv` per file, between the second script's checks and flush and its
// rest: three commands.
func installPhases() []phase {
	return []phase{
		sideBySide{
			// the binary, when its directory is there, from the start
			{uploadBinary{early: true}},
			// one script: prepare; then the uploads that need it, side by
			// side, to temporary names beside the targets
			{cleanTemp{}, createUser{}, createParents{}, ownDirs{}, fixModes{},
				sideBySide{{uploadBinary{}}, {uploadFiles{}}}},
		},
		// one script: verify, check, install, tell systemd; over SFTP, the
		// renames go in between, in the sftp-server (installFiles), and
		// the rest is a second script
		verifyUploads{}, checkBinary{}, checkConfig{}, flushUploads{}, installFiles{}, stampSums{}, daemonReload{}, enableUnit{}, recordApplied{stopped: true},
		// the host's file work is done: its SFTP session goes
		endSFTP{},
	}
}

// startPhases start a first install: one script.
func startPhases() []phase { return []phase{startUnit{}, recordApplied{}} }

// rollPhases restart a node behind the health gate, or reload it. An
// upgrade (a new binary on a running node) is a restart that steps the
// meta leadership down first, swaps the binary where others restart, and
// checks the release it runs afterwards; its other changes (a config) take
// effect with the same restart.
func rollPhases() []phase {
	return []phase{
		gateBefore{}, stepDown{}, restartUnit{}, swapBinary{}, reloadUnit{}, recordApplied{},
		healthyAfterReload{}, gateAfter{}, versionAfter{}, leafLinksUp{},
	}
}

// cutoverPhases restart a node without the gate before; cutoverWait waits
// for it to be back as the gate after a rolling restart does. A node that
// also gets a new binary swaps it in with this restart (its only one: a
// node restarted by a cutover is not rolled again) and must then run the
// new release.
func cutoverPhases() []phase { return []phase{restartUnit{}, swapBinary{}, recordApplied{}} }
func cutoverWait() []phase   { return []phase{gateAfter{}, versionAfter{}, leafLinksUp{}} }

// applyRun is one Apply: it runs each step's phases on the hosts the step
// concerns and records every host's time and outcome in the recap.
type applyRun struct {
	s     *Session
	plans []*HostPlan
	o     ApplyOptions
	r     *Recap
	log   *lineLog
	trace *tracer // nil: no trace
}

// onHost runs phases on p's host, as the step what (for the operator who
// interrupts it: "restart of us_1"), and records the outcome.
func (a *applyRun) onHost(ctx context.Context, p *HostPlan, what string, phases []phase) error {
	ctx, end := graceful.Begin(ctx, what+" of "+p.Node.Name)
	defer end()
	t0 := time.Now()
	err := func() error {
		c, err := a.s.Client(ctx, p.Node.Name)
		if err != nil {
			return err
		}
		h := &hostRun{s: a.s, p: p, c: c, log: a.log, timeout: a.o.GateTimeout, upload: a.o.Upload, trace: a.trace}
		err = runPhases(ctx, h, phases)
		if st := (*graceful.Stopped)(nil); errors.As(err, &st) {
			h.say("not " + done(p.Action) + ": the run was stopped at the gate before it")
			return fmt.Errorf("not %s: %w", done(p.Action), err)
		}
		return err
	}()
	a.r.add(p.Node.Name, time.Since(t0), err)
	return err
}

// inParallel runs phases on every host whose plan changes something, at
// most ApplyOptions.Concurrency at a time.
func (a *applyRun) inParallel(ctx context.Context, phases []phase) {
	n := a.o.Concurrency
	if n < 1 {
		n = len(a.plans) + 1
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, p := range a.plans {
		if p.Unreachable != nil || p.Err != nil || !p.Changed() {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if a.stopped(ctx, p, "not changed") {
				return
			}
			a.onHost(ctx, p, "install", phases)
		})
	}
	wg.Wait()
}

// firstInstalls runs phases on every node being started for the first time
// and still ok, all at once. A wait (after the starts) runs even once a stop
// was requested: a node that was started is waited for.
func (a *applyRun) firstInstalls(ctx context.Context, what string, wait bool, phases []phase) {
	var wg sync.WaitGroup
	for _, p := range a.plans {
		if p.Action != ActionStart || !a.r.ok(p.Node.Name) {
			continue
		}
		if !wait && a.stopped(ctx, p, "not started") {
			continue
		}
		wg.Go(func() { a.onHost(ctx, p, what, phases) })
	}
	wg.Wait()
}

// stopped records p as left alone (not, e.g. "not started") when the run
// is stopping, and says so.
func (a *applyRun) stopped(ctx context.Context, p *HostPlan, not string) bool {
	err := graceful.Err(ctx)
	if err == nil {
		return false
	}
	a.r.add(p.Node.Name, 0, fmt.Errorf("%s: the run was stopped: %w", not, err))
	return true
}

// cutover restarts every node to restart and still ok at once, waits for
// each to be back, and leaves them out of the rolling step.
func (a *applyRun) cutover(ctx context.Context) {
	var restart []*HostPlan
	for _, p := range a.plans {
		if p.Action == ActionRestart && a.r.ok(p.Node.Name) {
			restart = append(restart, p)
			if p.ServingMonitor != "" {
				a.s.servesMonitorAt(p.Node.Name, p.ServingMonitor)
			}
		}
	}
	// The waits run even once a stop was requested: a node restarted is
	// waited for.
	for i, step := range [][]phase{cutoverPhases(), cutoverWait()} {
		var wg sync.WaitGroup
		for _, p := range restart {
			if !a.r.ok(p.Node.Name) || (i == 0 && a.stopped(ctx, p, "not restarted")) {
				continue
			}
			wg.Go(func() { a.onHost(ctx, p, []string{"cutover restart", "wait after the cutover"}[i], step) })
		}
		wg.Wait()
	}
	for _, p := range restart {
		p.cutDone = true
	}
}

// rolling runs phases on every node to restart or reload and still ok:
// clusters in parallel, one node at a time within a cluster (its meta
// leader last), and a cluster's rollout stops at its first failure.
func (a *applyRun) rolling(ctx context.Context, phases []phase) {
	// A node whose monitoring port changes keeps answering on the old one
	// until it restarts: the gates look there (restartUnit says when).
	for _, p := range a.plans {
		if p.ServingMonitor != "" {
			a.s.servesMonitorAt(p.Node.Name, p.ServingMonitor)
		}
	}
	byCluster := map[string][]*HostPlan{}
	upgrade := false
	for _, p := range a.plans {
		if (p.Action == ActionRestart || p.Action == ActionReload) && a.r.ok(p.Node.Name) && !p.cutDone {
			byCluster[p.Node.Cluster] = append(byCluster[p.Node.Cluster], p)
			upgrade = upgrade || p.Upgrade
		}
	}
	if upgrade {
		a.upgradeRollout(ctx, byCluster, phases)
		return
	}
	hubDone := hubRollouts(a.s.Inv, byCluster)
	var wg sync.WaitGroup
	for name, list := range byCluster {
		wg.Go(func() {
			if done, ok := hubDone[name]; ok {
				defer close(done)
			}
			cl := a.s.Inv.Cluster(name)
			if cl != nil && cl.IsLeaf() {
				if hub, ok := hubDone[cl.LeafOf]; ok {
					<-hub // its own rollout stops early if the run is stopped meanwhile
				}
			}
			// The meta leader last, as in an upgrade: the cluster elects a
			// new leader once, not once per restart that lands on it.
			if cl != nil {
				list = a.leaderLast(ctx, cl.Domain, list)
			}
			a.oneAtATime(ctx, list, phases, func(p *HostPlan) string {
				return fmt.Sprintf("the rollout of cluster %s stopped at %s", p.Node.Cluster, p.Node.Name)
			})
		})
	}
	wg.Wait()
}

// hubRollouts gives each cluster that restarts nodes in this rollout and
// has leaf clusters rolling too a channel closed when its rollout ends: its
// leaves wait for it. A leaf link whose hub node restarts moves to the next
// hub node of its remote's list, and nats-server never moves it back; while
// the hub's nodes in the leaf's own DC restart, that is a node in another DC,
// and the leaf's traffic then crosses DCs until the leaf node restarts. A
// leaf node restarted after its hub's rollout links to the first hub nodes of
// its list: those of its own DC.
func hubRollouts(inv *inventory.Inventory, byCluster map[string][]*HostPlan) map[string]chan struct{} {
	out := map[string]chan struct{}{}
	for name := range byCluster {
		cl := inv.Cluster(name)
		if cl == nil || !cl.IsLeaf() {
			continue
		}
		if restarts(byCluster[cl.LeafOf]) && out[cl.LeafOf] == nil {
			out[cl.LeafOf] = make(chan struct{})
		}
	}
	return out
}

// restarts tells whether plans restart a node (a reload keeps its links).
func restarts(plans []*HostPlan) bool {
	for _, p := range plans {
		if p.Action == ActionRestart {
			return true
		}
	}
	return false
}

// upgradeRollout is rolling for a run that upgrades nats-server: one
// cluster after the other in UpgradeOrder, each one's meta leader last, and
// the first node that fails stops the whole rollout, so that a release that
// does not come up healthy goes no further than one node.
func (a *applyRun) upgradeRollout(ctx context.Context, byCluster map[string][]*HostPlan, phases []phase) {
	var clusters []*inventory.Cluster
	for _, cl := range a.s.Inv.Clusters {
		if len(byCluster[cl.Name]) > 0 {
			clusters = append(clusters, cl)
		}
	}
	var todo []*HostPlan
	for _, cl := range UpgradeOrder(clusters, false) {
		todo = append(todo, a.leaderLast(ctx, cl.Domain, byCluster[cl.Name])...)
	}
	a.oneAtATime(ctx, todo, phases, func(p *HostPlan) string {
		return fmt.Sprintf("the upgrade rollout stopped at %s (cluster %s)", p.Node.Name, p.Node.Cluster)
	})
}

// leaderLast orders plans (one cluster's) with the meta leader's last
// (Session.LeaderLast).
func (a *applyRun) leaderLast(ctx context.Context, domain string, plans []*HostPlan) []*HostPlan {
	byNode := map[string]*HostPlan{}
	var nodes []*inventory.Node
	for _, p := range plans {
		byNode[p.Node.Name] = p
		nodes = append(nodes, p.Node)
	}
	var out []*HostPlan
	for _, n := range a.s.LeaderLast(ctx, domain, nodes) {
		out = append(out, byNode[n.Name])
	}
	return out
}

// oneAtATime takes the nodes of list in order, each through phases. The
// first node that fails stops the list (stoppedAt says where, for the nodes
// left untouched); so does a stopped run (Ctrl-C, or the deployment lock
// lost): no further node is touched.
func (a *applyRun) oneAtATime(ctx context.Context, list []*HostPlan, phases []phase, stoppedAt func(*HostPlan) string) {
	for i, p := range list {
		if err := graceful.Err(ctx); err != nil {
			for _, rest := range list[i:] {
				a.r.add(rest.Node.Name, 0, fmt.Errorf("not %s: the run was stopped: %w", done(rest.Action), err))
			}
			return
		}
		if err := a.onHost(ctx, p, string(p.Action), phases); err != nil {
			for _, rest := range list[i+1:] {
				a.r.add(rest.Node.Name, 0, fmt.Errorf("not restarted: %s", stoppedAt(p)))
			}
			return
		}
	}
}

// done is an action's past participle, for "not restarted".
func done(a Action) string { return string(a) + "ed" }

func remoteFile(f templates.File) remote.File {
	return remote.File{Path: f.Path, Mode: os.FileMode(f.Mode), Owner: f.Owner, Group: f.Group,
		Content: bytes.NewReader(f.Content), SHA256: f.SHA256, Size: int64(len(f.Content))}
}

// logLinks says which leafnode links came up.
func logLinks(log *lineLog, node string) func([]string) {
	return func(accounts []string) {
		log.say(node, "leafnode links up (accounts "+strings.Join(accounts, ", ")+")")
	}
}

// journalTail returns the unit's last log lines, to explain a failed start.
// nats-server may log a password (a leafnode remote's URL it cannot
// parse): every password of sec is redacted from the lines, and so is any
// URL's (an old one, from before a rotation, that sec no longer knows).
func journalTail(ctx context.Context, c *remote.Client, unit string, sec *inventory.Secrets) string {
	out, _, err := c.Run(context.WithoutCancel(ctx), "journalctl -u "+shellQuote(unit)+" -n 8 --no-pager -o cat 2>/dev/null")
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return ""
	}
	lines := sec.Redact(redactConfig(strings.TrimSpace(string(out))))
	return "\n  last log lines of " + unit + ":\n    " + strings.ReplaceAll(lines, "\n", "\n    ")
}

func withStderr(err error, stderr []byte) error {
	var ee *remote.ExitError
	if errors.As(err, &ee) {
		return err // ExitError already carries stderr
	}
	if s := strings.TrimSpace(string(stderr)); s != "" {
		return fmt.Errorf("%w: %s", err, s)
	}
	return err
}

// lineLog writes whole lines from many goroutines without interleaving.
type lineLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineLog) say(node, msg string) {
	if l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%-14s %s\n", node, msg)
}
