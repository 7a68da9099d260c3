package runbooks

import (
	"context"
	"fmt"
	"strings"

	"github.com/dcctl/dcctl/jetstream"
)

// ExpandStream raises a stream's replica count (an R1 stream to R3, say)
// and proves the data is the same afterwards.
type ExpandStream struct {
	Stream string
	Domain string
	// Account, when set, is the JetStream account the stream is looked up
	// in; otherwise whichever account has it (two that do are refused).
	Account  string
	Replicas int // default 3
	// Tags, when set, place every replica on servers carrying all of them
	// (JetStream placement tags; dc:<dc> places by data center).
	Tags []string

	ref    streamRef // the stream, its account found by the pre-checks
	state  jetstream.StreamState
	before jetstream.Baseline
}

func (r *ExpandStream) Name() string { return "expand-stream" }

// Describe is the runbook's entry in `dcctl runbook list`.
func (r *ExpandStream) Describe() Description {
	return Description{
		Name: "expand-stream", Command: "dcctl runbook", Usage: "expand-stream STREAM --domain D [--account A] [--replicas 3] [--tag TAG]...",
		Short: "raise a stream's replica count (R1 -> R3) and prove every replica holds the same data",
		Pre: []string{"the domain has a meta leader", "the stream exists, in one JetStream account (or the one --account names), with fewer replicas than wanted and its replicas are current",
			"enough online servers in the cluster (carrying every --tag)", "baseline"},
		Steps: []string{"with --tag: stream update of the placement tags, wait until every replica is on a tagged server and current", "stream update num_replicas, wait for the new replicas to be current"},
		Post:  []string{"N replicas, all current (on tagged servers with --tag); the recorded messages intact (growth allowed; the proof used is named)"},
	}
}

func (r *ExpandStream) Target() string {
	t := fmt.Sprintf("%s in domain %s to R%d", jetstream.StreamRef(r.Account, r.Stream), r.Domain, r.replicas())
	if len(r.Tags) > 0 {
		t += " on servers tagged " + strings.Join(r.Tags, " and ")
	}
	return t
}

func (r *ExpandStream) replicas() int {
	if r.Replicas < 1 {
		return 3
	}
	return r.Replicas
}

// Settle asserts some cluster serves Domain, Account is a JetStream
// account and the cluster has nodes enough for the replicas.
func (r *ExpandStream) Settle(e *Env) error {
	r.ref = streamRef{r.Account, r.Stream}
	if err := knownAccount(e, r.Account); err != nil {
		return err
	}
	if err := knownDomain(e, r.Domain); err != nil {
		return err
	}
	return replicasFit(e, r.Domain, r.replicas(), r.Tags)
}

func (r *ExpandStream) PreChecks(e *Env) []Check {
	n := r.replicas()
	checks := []Check{
		metaLeader(e, r.Domain),
		{Name: fmt.Sprintf("streamFewerReplicasThan(%s, %d)", e.label(r.ref), n), Run: func(ctx context.Context) error {
			st, err := findStream(ctx, e, r.Domain, r.Stream, r.Account)
			if err != nil {
				return err
			}
			r.state, r.ref = *st, refOf(*st)
			if st.Replicas > n {
				return fmt.Errorf("stream %s is R%d, more than %d: this runbook only adds replicas", e.label(r.ref), st.Replicas, n)
			}
			// st.Replicas == n: an earlier run got as far as the update; the
			// step is skipped and the post-checks prove the rest.
			return nil
		}},
		{Name: fmt.Sprintf("streamLeaderHealthy(%s)", e.label(r.ref)), Run: func(ctx context.Context) error {
			if r.state.Leader == "" {
				return fmt.Errorf("stream %s has no leader: restore its servers first", e.label(r.ref))
			}
			if r.state.Replicas == n {
				return nil // catching up from an earlier run: the post-check waits
			}
			// settle: under a steady flow of writes a healthy follower is
			// now and then reported not current for a moment.
			nc, err := e.natsIn(ctx, r.ref.Account)
			if err != nil {
				return err
			}
			return e.settle(ctx, func() error {
				st, err := nc.Stream(ctx, r.Domain, r.Stream)
				if err != nil {
					return err
				}
				return st.Current()
			})
		}},
		enoughServers(e, r.Domain, &n),
	}
	if len(r.Tags) > 0 {
		checks = append(checks, enoughTaggedServers(e, r.Domain, r.Tags, &n))
	} else {
		checks = append(checks, enoughServersForItsPlacement(e, r.Domain, &r.ref, &r.state, &n))
	}
	return append(checks, recordBaseline(e, r.Domain, &r.ref, &r.before))
}

func (r *ExpandStream) Steps(e *Env) []Step {
	n := r.replicas()
	var steps []Step
	if len(r.Tags) > 0 {
		// First the placement, then the count: JetStream refuses both in one
		// update, and new replicas placed after the tags land on tagged
		// servers.
		steps = append(steps, Step{
			Name: fmt.Sprintf("placeByTags(%s, %s)", e.label(r.ref), strings.Join(r.Tags, " ")),
			// A replica on an untagged server is moved: its copy there goes.
			Destructive: true,
			Done: func(context.Context) (bool, error) {
				return jetstream.SameTags(r.state.PlacementTags, r.Tags) && len(untagged(e, &r.state, r.Tags)) == 0, nil
			},
			Run: func(ctx context.Context, progress func(string)) error {
				return placeByTags(ctx, e, r.Domain, r.ref, r.Tags, progress)
			},
		})
	}
	return append(steps, Step{
		Name: fmt.Sprintf("setReplicas(%s, %d)", e.label(r.ref), n),
		Done: func(context.Context) (bool, error) { return r.state.Replicas == n, nil },
		Run: func(ctx context.Context, progress func(string)) error {
			if err := setReplicasAfterMove(ctx, e, r.Domain, r.ref, n); err != nil {
				return err
			}
			return waitStreamCurrent(ctx, e, r.Domain, r.ref, n, progress)
		},
	})
}

func (r *ExpandStream) PostChecks(e *Env) []Check {
	checks := []Check{streamReplicasCurrent(e, r.Domain, &r.ref, r.replicas())}
	if len(r.Tags) > 0 {
		checks = append(checks, replicasCarryTags(e, r.Domain, &r.ref, r.Tags))
	}
	return append(checks, streamDataIntact(e, r.Domain, &r.ref, &r.before))
}
