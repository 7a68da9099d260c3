package runbooks

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/jetstream"
	"github.com/dcctl/dcctl/provision"
)

// Upgrade rolls a new nats-server release through the deployment (or one
// cluster), the way provision does for a changed nats.binary
// (provision/upgrade.go): the new binary staged as <install_path>.next on
// every host first, then swapped in one node at a time behind the health
// gate, hub clusters before their leaves, each cluster's meta leader last
// after a step-down. With Rollback it puts <install_path>.previous back on
// the nodes that have one of another release than they run, leaves before
// their hub, gated the same way.
type Upgrade struct {
	Binary         string // the new nats-server (not with Rollback)
	Cluster        string // empty: every cluster
	AllowDowngrade bool
	Rollback       bool

	version provision.BinaryVersion
	sum     string
	// order is the nodes to swap, in rollout order; want is the release
	// each must run afterwards.
	order []*inventory.Node
	want  map[string]string
	// baselines are each domain's streams as they were before the steps.
	baselines map[string][]*jetstream.Baseline
}

func (u *Upgrade) Name() string { return "upgrade" }

// Describe is the runbook's entry in `dcctl runbook list`.
func (u *Upgrade) Describe() Description {
	return Description{
		Name: "upgrade", Command: "dcctl runbook", Usage: "upgrade --binary FILE [--cluster C] [--allow-downgrade] | --rollback",
		Short: "roll a new nats-server release through the deployment behind the gates (hub before leaves, meta leader last), or back",
		Pre: []string{"the new binary's release, read from its Go build information (not run)", "no cluster of 2 nodes: either one down costs its meta quorum (--cluster picks the others)", "every node's unit active",
			"no server runs a newer minor release (unless --allow-downgrade); --rollback: the nodes keeping a .previous binary of another release",
			"the binary's architecture is every host's", "each domain has a meta leader and quorum, every stream current", "baseline of every stream"},
		Steps: []string{"stage: the binary uploaded to <install_path>.next on every host, verified and run with --version; nothing running touched",
			"per node, hub clusters first (--rollback: leaves first), the meta leader last: gate, meta step-down if it leads, lame-duck stop, swap (the old binary kept as .previous), start, gate (healthy, current meta peer, replicas current, /varz the new release)"},
		Post: []string{"every node reports the release it should run", "every node healthy, a current meta peer", "every stream current; its recorded messages intact (the proof used is named)"},
	}
}

func (u *Upgrade) Target() string {
	what := "nats-server " + u.Binary
	if u.Rollback {
		what = "rollback to " + provision.PreviousSuffix
	}
	if u.Cluster == "" {
		return what + ", all clusters"
	}
	return what + ", cluster " + u.Cluster
}

// clusters are the clusters the run acts on, in rollout order.
func (u *Upgrade) clusters(e *Env) []*inventory.Cluster {
	all := e.Inv.Clusters
	if u.Cluster != "" {
		all = nil
		if cl := e.Inv.Cluster(u.Cluster); cl != nil {
			all = []*inventory.Cluster{cl}
		}
	}
	return provision.UpgradeOrder(all, u.Rollback)
}

func (u *Upgrade) nodes(e *Env) []*inventory.Node {
	var out []*inventory.Node
	for _, cl := range u.clusters(e) {
		out = append(out, cl.Active()...)
	}
	return out
}

// Settle asserts the inventory knows Cluster (when one is named).
func (u *Upgrade) Settle(e *Env) error { return knownCluster(e, u.clusters(e), u.Cluster) }

func (u *Upgrade) PreChecks(e *Env) []Check {
	u.want, u.order, u.baselines = map[string]string{}, nil, map[string][]*jetstream.Baseline{}
	var checks []Check
	if !u.Rollback {
		checks = append(checks, u.binaryRelease())
	}
	for _, cl := range u.clusters(e) {
		checks = append(checks, restartable(cl))
	}
	for _, n := range u.nodes(e) {
		checks = append(checks, unitActive(e, n.Name))
	}
	if u.Rollback {
		checks = append(checks, u.previousReleases(e))
	} else {
		checks = append(checks, u.notADowngrade(e), u.binaryRunsOnHosts(e))
	}
	for _, cl := range u.clusters(e) {
		checks = append(checks, metaLeader(e, cl.Domain), allStreamsCurrent(e, cl.Domain), u.recordBaselines(e, cl.Domain), u.rolloutOrder(e, cl))
	}
	return checks
}

// binaryRelease reads the new binary's release from its build information
// (it may not run on this machine) and its sha256.
func (u *Upgrade) binaryRelease() Check {
	return Check{Name: "binaryRelease", Run: func(context.Context) error {
		if u.Binary == "" {
			return fmt.Errorf("no --binary given: name the new nats-server, or use --rollback")
		}
		v, err := provision.ReadBinaryVersion(u.Binary)
		if err != nil {
			return err
		}
		sum, _, err := fileSHA256(u.Binary)
		if err != nil {
			return err
		}
		u.version, u.sum = v, sum
		return nil
	}}
}

// notADowngrade compares the new release with every server's (/varz).
func (u *Upgrade) notADowngrade(e *Env) Check {
	return Check{Name: "notADowngrade", Run: func(ctx context.Context) error {
		var names []string
		for _, n := range u.nodes(e) {
			names = append(names, n.Name)
		}
		running, err := e.Session.CheckVersions(ctx, names, u.version, u.AllowDowngrade)
		if err != nil {
			return err
		}
		seen := map[string][]string{}
		for n, v := range running {
			seen[v] = append(seen[v], n)
			u.want[n] = u.version.Release()
		}
		var parts []string
		for v, ns := range seen {
			sort.Strings(ns)
			parts = append(parts, fmt.Sprintf("%s on %s", v, strings.Join(ns, ", ")))
		}
		sort.Strings(parts)
		e.Journal.Write(Entry{Phase: "pre-check", Name: "notADowngrade", Result: "releases",
			Detail: fmt.Sprintf("new %s (%s); running %s", u.version.NATS, u.version.Main, strings.Join(parts, "; "))})
		return nil
	}}
}

// binaryRunsOnHosts refuses a binary built for another architecture than a
// host's (its ELF header against `uname -m`).
func (u *Upgrade) binaryRunsOnHosts(e *Env) Check {
	return Check{Name: "binaryRunsOnHosts", Run: func(ctx context.Context) error {
		return e.Session.CheckBinaryArch(ctx, u.Binary, u.nodes(e))
	}}
}

// previousReleases finds the nodes a rollback concerns: those whose host
// keeps a .previous binary of another release than the installed one.
func (u *Upgrade) previousReleases(e *Env) Check {
	return Check{Name: "previousReleases", Run: func(ctx context.Context) error {
		var found []string
		for _, n := range u.nodes(e) {
			installed, previous, err := e.Session.InstalledReleases(ctx, n.Name)
			if err != nil {
				return err
			}
			if previous == "" || previous == installed {
				continue
			}
			if previous == "unknown" {
				return fmt.Errorf("%s keeps %s%s, but it does not say its release (--version): put it back by hand (docs/runbooks.md)", n.Name, e.Inv.NATS.InstallPath, provision.PreviousSuffix)
			}
			u.want[n.Name] = previous
			found = append(found, fmt.Sprintf("%s (%s -> %s)", n.Name, installed, previous))
		}
		if len(found) == 0 {
			e.Journal.Write(Entry{Phase: "pre-check", Name: "previousReleases", Result: "ok", Detail: "no node keeps an older binary: nothing to roll back"})
			return nil
		}
		e.Journal.Write(Entry{Phase: "pre-check", Name: "previousReleases", Result: "ok", Detail: "to roll back: " + strings.Join(found, ", ")})
		return nil
	}}
}

// recordBaselines records every stream of domain, in every JetStream
// account: the post-checks prove each one's messages are still there.
func (u *Upgrade) recordBaselines(e *Env, domain string) Check {
	return Check{Name: fmt.Sprintf("baselines(%s)", domain), Run: func(ctx context.Context) error {
		list, err := domainStreams(ctx, e, domain)
		if err != nil {
			return err
		}
		for _, st := range list.Streams {
			b, s := new(jetstream.Baseline), refOf(st)
			if err := recordBaseline(e, domain, &s, b).Run(ctx); err != nil {
				return err
			}
			u.baselines[domain] = append(u.baselines[domain], b)
		}
		return nil
	}}
}

// rolloutOrder puts cl's nodes to swap in order, its meta leader last.
func (u *Upgrade) rolloutOrder(e *Env, cl *inventory.Cluster) Check {
	return Check{Name: fmt.Sprintf("rolloutOrder(%s)", cl.Name), Run: func(ctx context.Context) error {
		var todo []*inventory.Node
		for _, n := range cl.Active() {
			if _, ok := u.want[n.Name]; ok {
				todo = append(todo, n)
			}
		}
		u.order = append(u.order, e.Session.LeaderLast(ctx, cl.Domain, todo)...)
		return nil
	}}
}

func (u *Upgrade) Steps(e *Env) []Step {
	var steps []Step
	if !u.Rollback {
		for _, n := range u.nodes(e) {
			steps = append(steps, u.stage(e, n.Name))
		}
	}
	for _, n := range u.order {
		steps = append(steps, u.swap(e, n.Name))
	}
	return steps
}

// stage uploads the new binary beside the installed one: nothing runs it
// yet. Done when it is there already, or the node runs the new release.
func (u *Upgrade) stage(e *Env, node string) Step {
	return Step{
		Name: fmt.Sprintf("stage(%s)", node),
		Done: func(ctx context.Context) (bool, error) {
			if v, err := e.Session.RunningVersion(ctx, node); err == nil && v == u.want[node] {
				return true, nil
			}
			sum, err := e.Session.StagedSum(ctx, node)
			return sum == u.sum, err
		},
		Run: func(ctx context.Context, progress func(string)) error {
			return e.Session.StageBinary(ctx, node, u.Binary, u.sum, nil)
		},
	}
}

// swap is one node's turn: the provision phases of an upgrade (gate, step-
// down if it leads, lame-duck stop, swap, start, gate, release).
func (u *Upgrade) swap(e *Env, node string) Step {
	name := "swap"
	if u.Rollback {
		name = "rollback"
	}
	return Step{
		Name:        fmt.Sprintf("%s(%s)", name, node),
		Destructive: true,
		Done: func(ctx context.Context) (bool, error) {
			v, err := e.Session.RunningVersion(ctx, node)
			if err != nil || v != u.want[node] {
				return false, nil
			}
			if !u.Rollback {
				return true, nil
			}
			// Rolled back: the installed binary is the one that ran before.
			installed, _, err := e.Session.InstalledReleases(ctx, node)
			return installed == v, err
		},
		Run: func(ctx context.Context, progress func(string)) error {
			w := &progressWriter{progress: progress}
			return e.Session.SwapBinary(ctx, node, provision.SwapOptions{Rollback: u.Rollback, Want: u.want[node], Timeout: e.timeout(), Log: w})
		},
	}
}

func (u *Upgrade) PostChecks(e *Env) []Check {
	var checks []Check
	for _, cl := range u.clusters(e) {
		for _, n := range cl.Active() {
			if want, ok := u.want[n.Name]; ok {
				checks = append(checks, runsRelease(e, n.Name, want))
			}
			checks = append(checks, nodeWhole(e, n.Name))
		}
		checks = append(checks, allStreamsCurrent(e, cl.Domain))
		for _, b := range u.baselines[cl.Domain] {
			checks = append(checks, streamDataIntact(e, cl.Domain, &streamRef{b.Account, b.Stream}, b))
		}
	}
	return checks
}

// runsRelease asserts node's server reports release on /varz.
func runsRelease(e *Env, node, release string) Check {
	return Check{Name: fmt.Sprintf("runsRelease(%s, %s)", node, release), Run: func(ctx context.Context) error {
		v, err := e.Session.RunningVersion(ctx, node)
		if err != nil {
			return err
		}
		if v != release {
			return fmt.Errorf("%s runs nats-server %s, not %s", node, v, release)
		}
		return nil
	}}
}

// unitActive asserts node's unit is active: an upgrade keeps a cluster
// whole only if it starts whole.
func unitActive(e *Env, node string) Check {
	return Check{Name: fmt.Sprintf("unitActive(%s)", node), Run: func(ctx context.Context) error {
		state, err := e.Hosts.UnitState(ctx, node)
		if err != nil {
			return err
		}
		if state != "active" {
			return fmt.Errorf("%s's unit is %s: a rollout keeps the cluster whole only if it starts whole; bring it back first (dcctl runbook restore-node %s)", node, state, node)
		}
		return nil
	}}
}

// progressWriter turns the swap's log lines into step progress.
type progressWriter struct{ progress func(string) }

func (w *progressWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			w.progress(l)
		}
	}
	return len(p), nil
}

// InventoryNote is what the operator should change in the inventory after
// a run that left nodes on another binary than nats.binary names ("" when
// nothing): otherwise the next `dcctl provision` changes the binary again.
func (u *Upgrade) InventoryNote(inv *inventory.Inventory) string {
	if u.Rollback {
		if len(u.want) == 0 {
			return ""
		}
		var releases []string
		for _, r := range u.want {
			if !slices.Contains(releases, r) {
				releases = append(releases, r)
			}
		}
		slices.Sort(releases)
		// nats.binary often still names the release rolled back to (the
		// upgrade was tried with --binary): then there is nothing to change.
		v, err := provision.ReadBinaryVersion(inv.NATS.Binary)
		if err == nil && len(releases) == 1 && v.Release() == releases[0] {
			return ""
		}
		now := inv.NATS.Binary
		if err == nil {
			now += ", release " + v.Release()
		}
		return fmt.Sprintf("note: the nodes rolled back run %s again; point nats.binary in %s (now %s) at that release, or the next dcctl provision upgrades them again", strings.Join(releases, ", "), inv.File, now)
	}
	if u.sum == "" {
		return ""
	}
	if sum, _, err := fileSHA256(inv.NATS.Binary); err == nil && sum == u.sum {
		return ""
	}
	return fmt.Sprintf("note: nats.binary in %s is still %s: point it at %s, or the next dcctl provision changes the binary again (and refuses if that is a downgrade across minor releases)", inv.File, inv.NATS.Binary, u.Binary)
}
