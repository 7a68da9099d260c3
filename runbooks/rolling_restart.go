package runbooks

import (
	"context"
	"fmt"
	"time"

	"github.com/dcctl/dcctl/graceful"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
)

// RollingRestart restarts every active node of one cluster (or of every
// cluster), one node at a time, each behind the provision health gate:
// before, the cluster must be able to lose the node; after, the node must be
// healthy, a current meta peer, with its replicas current, before the next
// one goes down. The meta leader of each cluster goes last, so that the
// cluster elects a new leader once instead of at every step.
type RollingRestart struct {
	Cluster string // empty: every cluster

	order []*inventory.Node
	// last is each domain's streams' last sequences before the restarts.
	last map[string]map[streamRef]uint64
}

func (r *RollingRestart) Name() string { return "rolling-restart" }

// Describe is the runbook's entry in `dcctl runbook list`.
func (r *RollingRestart) Describe() Description {
	return Description{
		Name: "rolling-restart", Command: "dcctl runbook", Usage: "rolling-restart [--cluster C]",
		Short: "restart every node of a cluster (or all clusters) one at a time behind the health gate",
		Pre:   []string{"no cluster of 2 nodes: either one down costs its meta quorum (--cluster picks the others)", "every node's host is reachable and its unit active", "each domain has a meta leader", "the last sequence of every stream"},
		Steps: []string{"per node: gate (it can go down safely), restart, gate (healthy, current, replicas current)"},
		Post:  []string{"every node healthy and a current meta peer; every stream current (none lost quorum) and not behind its recorded last sequence"},
	}
}

func (r *RollingRestart) Target() string {
	if r.Cluster == "" {
		return "all clusters"
	}
	return "cluster " + r.Cluster
}

// clusters are the clusters to restart, hubs before their leaves whatever
// the inventory's order: a leaf node restarted after its hub's nodes links
// to the hub nodes of its own DC (first in its remotes), where a hub node
// restarted after its leaves would move their links to another hub node,
// perhaps in another DC, for good.
func (r *RollingRestart) clusters(e *Env) []*inventory.Cluster {
	if r.Cluster == "" {
		return provision.UpgradeOrder(e.Inv.Clusters, false)
	}
	if cl := e.Inv.Cluster(r.Cluster); cl != nil {
		return []*inventory.Cluster{cl}
	}
	return nil
}

// Settle asserts the inventory knows Cluster (when one is named).
func (r *RollingRestart) Settle(e *Env) error { return knownCluster(e, r.clusters(e), r.Cluster) }

func (r *RollingRestart) PreChecks(e *Env) []Check {
	var checks []Check
	r.last = map[string]map[streamRef]uint64{}
	for _, cl := range r.clusters(e) {
		r.last[cl.Domain] = map[streamRef]uint64{}
		checks = append(checks, restartable(cl), metaLeader(e, cl.Domain), recordLastSeqs(e, cl.Domain, r.last[cl.Domain], false))
		for _, n := range cl.Active() {
			checks = append(checks, unitActive(e, n.Name))
		}
		checks = append(checks, Check{Name: fmt.Sprintf("restartOrder(%s)", cl.Name), Run: func(ctx context.Context) error {
			// The meta leader last: the cluster then elects a new leader
			// once, not at every step.
			r.order = append(r.order, e.Session.LeaderLast(ctx, cl.Domain, cl.Active())...)
			return nil
		}})
	}
	return checks
}

func (r *RollingRestart) Steps(e *Env) []Step {
	var steps []Step
	for _, n := range r.order {
		steps = append(steps, Step{
			Name:        fmt.Sprintf("restart(%s)", n.Name),
			Destructive: true,
			Run: func(ctx context.Context, progress func(string)) error {
				progress("gate: can the cluster lose " + n.Name + "?")
				// Nothing has changed yet: a stop request (the first
				// Ctrl-C) ends this wait at once, and no restart starts.
				if err := graceful.BeforeChange(ctx, func(ctx context.Context) error {
					return e.Session.GateBefore(ctx, n.Name, e.timeout(), progress, progress)
				}); err != nil {
					return err
				}
				t0 := time.Now()
				if err := e.Hosts.UnitCtl(ctx, n.Name, "restart"); err != nil {
					return err
				}
				if err := e.Session.GateAfter(ctx, n.Name, e.timeout(), progress); err != nil {
					return fmt.Errorf("%w%s", err, e.Session.UnitLogTail(ctx, n.Name))
				}
				progress(fmt.Sprintf("%s back and current in %.1fs", n.Name, time.Since(t0).Seconds()))
				return nil
			},
		})
	}
	return steps
}

func (r *RollingRestart) PostChecks(e *Env) []Check {
	var checks []Check
	for _, cl := range r.clusters(e) {
		for _, n := range cl.Active() {
			checks = append(checks, nodeWhole(e, n.Name))
		}
		checks = append(checks, allStreamsCurrent(e, cl.Domain), streamsNotBehind(e, cl.Domain, r.last[cl.Domain]))
	}
	return checks
}

// restartable refuses a cluster none of whose nodes can go down behind the
// gate (a cluster of two) before anything is touched.
func restartable(cl *inventory.Cluster) Check {
	return Check{Name: fmt.Sprintf("restartable(%s)", cl.Name), Run: func(context.Context) error { return provision.RestartNeverSafe(cl) }}
}
