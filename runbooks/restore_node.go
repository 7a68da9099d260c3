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

	drift []string
	// last is the node's domain's streams' last sequences before it starts.
	last map[string]uint64
}

func (r *RestoreNode) Name() string   { return "restore-node" }
func (r *RestoreNode) Target() string { return r.Node }

func (r *RestoreNode) PreChecks(e *Env) []Check {
	return []Check{
		inventoryKnows(e, r.Node),
		{Name: fmt.Sprintf("hostReachable(%s)", r.Node), Run: func(ctx context.Context) error {
			state, err := e.Hosts.UnitState(ctx, r.Node)
			if err != nil {
				return err
			}
			if state == UnitUnreachable {
				n := e.Inv.Node(r.Node)
				return fmt.Errorf("cannot reach %s's host %s over SSH: bring the machine back (or fix SSH) first; if it is gone for good, use replace-peer %s --replacement NEWNODE",
					r.Node, n.SSHAddr(), r.Node)
			}
			return nil
		}},
		{Name: "lastSequences(domain)", Run: func(ctx context.Context) error {
			r.last = map[string]uint64{}
			return recordLastSeqs(e, r.domain(e), r.last, true).Run(ctx)
		}},
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
			Name: fmt.Sprintf("reprovision(%s)", r.Node),
			Done: func(context.Context) (bool, error) { return len(r.drift) == 0, nil },
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
	return []Check{nodeWhole(e, r.Node), {Name: "streamsNotBehind(domain)", Run: func(ctx context.Context) error {
		return streamsNotBehind(e, r.domain(e), r.last).Run(ctx)
	}}}
}

func (r *RestoreNode) domain(e *Env) string { return e.Inv.Domain(e.Inv.Node(r.Node)) }

// nodeWhole is the provision health gate after a start: /healthz 200, a
// current meta peer, every stream replica on it current.
func nodeWhole(e *Env, node string) Check {
	return Check{Name: fmt.Sprintf("nodeWhole(%s)", node), Run: func(ctx context.Context) error {
		return e.Session.GateAfter(ctx, node, e.timeout(), nil)
	}}
}
