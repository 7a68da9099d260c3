package runbooks

import (
	"context"
	"fmt"
	"strings"
)

// RestoreNode brings a stopped or crashed node back: its host must be
// reachable; if its files drifted from the inventory it is re-provisioned
// first; then its unit is started and the provision health gate waits until
// it is healthy, a current meta peer, and its stream replicas are current.
// It needs no meta leader: bringing nodes back is how a domain that lost its
// quorum gets one again.
type RestoreNode struct {
	Node string
	// Force acts on a node whose unit runs although it is not a current
	// member of its cluster (cut off by a partition, or stuck).
	Force bool

	drift []string
	// last is the node's domain's streams' last sequences before it starts.
	last map[streamRef]uint64
}

func (r *RestoreNode) Name() string { return "restore-node" }

// Describe is the runbook's entry in `dcctl runbook list`.
func (r *RestoreNode) Describe() Description {
	return Description{
		Name: "restore-node", Command: "dcctl runbook", Usage: "restore-node NODE [--force]",
		Short: "bring a stopped or failed node back: re-provision it if its files drifted, start it, wait until it is whole",
		Pre:   []string{"the inventory knows NODE", "NODE's state is known from its host's systemd (an unreachable host is refused: it may be partitioned, not down); a unit that runs while NODE is not a current meta peer is refused unless --force", "the last sequence of every stream of its domain (when the domain can list them)", "whether its files drifted from the inventory (provision plan)"},
		Steps: []string{"re-provision NODE (only when drifted)", "start its unit"},
		Post:  []string{"NODE healthy, a current meta peer, its stream replicas current (the provision health gate)", "no stream behind its recorded last sequence"},
	}
}

func (r *RestoreNode) Target() string { return r.Node }

// Settle asserts the inventory knows Node.
func (r *RestoreNode) Settle(e *Env) error {
	if e.Inv.Node(r.Node) == nil {
		return unknownNode(e, r.Node)
	}
	return nil
}

func (r *RestoreNode) PreChecks(e *Env) []Check {
	r.last = map[streamRef]uint64{}
	return []Check{
		r.nodeStateKnown(e),
		recordLastSeqs(e, r.domain(e), r.last, true),
		{Name: fmt.Sprintf("filesMatchInventory(%s)", r.Node), Run: func(ctx context.Context) error {
			// Read-only: a drift is not a refusal, it adds the re-provision step.
			d, err := e.Hosts.Drift(ctx, r.Node)
			if err != nil {
				return err
			}
			r.drift = d
			if len(d) > 0 {
				e.Journal.Write(Entry{Phase: "pre-check", Name: fmt.Sprintf("filesMatchInventory(%s)", r.Node), Result: "drift", Detail: strings.Join(d, "; ")})
			}
			return nil
		}},
	}
}

func (r *RestoreNode) Steps(e *Env) []Step {
	return []Step{
		{
			Name:      fmt.Sprintf("reprovision(%s)", r.Node),
			Done:      func(context.Context) (bool, error) { return len(r.drift) == 0, nil },
			NotNeeded: "not needed (the host's files match the inventory)",
			Run: func(ctx context.Context, progress func(string)) error {
				progress("drifted: " + strings.Join(r.drift, ", "))
				return e.Hosts.Provision(ctx, r.Node)
			},
		},
		{
			Name: fmt.Sprintf("startUnit(%s)", r.Node),
			Done: func(ctx context.Context) (bool, error) {
				state, err := e.Hosts.UnitState(ctx, r.Node)
				return err == nil && state == "active", err
			},
			Run: func(ctx context.Context, _ func(string)) error {
				return e.Hosts.UnitCtl(ctx, r.Node, "start")
			},
		},
	}
}

func (r *RestoreNode) PostChecks(e *Env) []Check {
	return []Check{nodeWhole(e, r.Node), {Name: fmt.Sprintf("streamsNotBehind(%s)", r.domain(e)), Run: func(ctx context.Context) error {
		return streamsNotBehind(e, r.domain(e), r.last).Run(ctx)
	}}}
}

// nodeStateKnown asserts the runbook knows the node's state from its host's
// systemd, and that there is something to restore. A host that cannot be
// reached is no evidence of anything: the node may be down, or running
// behind a cut link. A unit that runs while the node is not a current
// member of its cluster is not down either: starting it again mends no
// partition.
func (r *RestoreNode) nodeStateKnown(e *Env) Check {
	return Check{Name: fmt.Sprintf("nodeStateKnown(%s)", r.Node), Run: func(ctx context.Context) error {
		n := e.Inv.Node(r.Node)
		state, err := e.Hosts.UnitState(ctx, r.Node)
		if err != nil {
			return fmt.Errorf("cannot read the state of %s's unit on its host: %w: restore-node acts only on what systemd says", r.Node, err)
		}
		if state == UnitUnreachable {
			return fmt.Errorf("cannot reach %s's host %s over SSH, so its state is unknown: the machine may be down, or cut off by a partition (a DC link down) while its node still runs; dcctl status shows per DC what this machine reaches. Bring the machine or the link back first; if it is gone for good, use replace-peer %s --replacement NEWNODE",
				r.Node, n.SSHAddr(), r.Node)
		}
		if state != "active" {
			return nil // down, or on its way up: systemd says so
		}
		// The unit runs: either the node is whole (an earlier run did the
		// work, and the post-checks prove it) or something else is wrong.
		nc, err := e.nats(ctx)
		if err != nil {
			return err
		}
		domain := r.domain(e)
		why := e.settle(ctx, func() error {
			m, err := nc.Meta(ctx, domain)
			if err != nil {
				return err
			}
			if !m.HasLeader() {
				return fmt.Errorf("its unit is active but domain %q has no meta leader that answers from here", domain)
			}
			if p, ok := m.Peer(r.Node); !ok || !p.Healthy() {
				return fmt.Errorf("its unit is active but it is not a current member of domain %q's meta group as seen from here (meta leader %s)", domain, m.Leader)
			}
			return nil
		})
		if why == nil {
			return nil
		}
		risk := fmt.Sprintf("restore-node re-provisions %s if its files drifted (a restart of a node that may be serving clients) and then waits for it to rejoin, which a partition prevents", r.Node)
		if r.Force {
			e.Journal.Write(Entry{Phase: "pre-check", Name: fmt.Sprintf("nodeStateKnown(%s)", r.Node), Result: "overridden", Detail: "--force: " + why.Error() + ". Risk accepted: " + risk})
			if e.Out != nil {
				fmt.Fprintf(e.Out, "          --force: %s: %s.\n          Risk: %s\n", r.Node, why, risk)
			}
			return nil
		}
		return fmt.Errorf("%s is not down (%v): it may be starting, or cut off from its cluster by a partition, which restarting does not mend; check dcctl status and the link between DCs. --force goes on anyway: %s", r.Node, why, risk)
	}}
}

func (r *RestoreNode) domain(e *Env) string { return e.Inv.Domain(e.Inv.Node(r.Node)) }

// nodeWhole is the provision health gate after a start: /healthz 200, a
// current meta peer, every stream replica on it current.
func nodeWhole(e *Env, node string) Check {
	return Check{Name: fmt.Sprintf("nodeWhole(%s)", node), Run: func(ctx context.Context) error {
		return e.Session.GateAfter(ctx, node, e.timeout(), nil)
	}}
}
