package runbooks

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/jetstream"
)

// Checks and waits shared by several runbooks. Each is named for what it
// asserts; its error says what is wrong and what to do.

func (e *Env) nats(ctx context.Context) (*jetstream.Conn, error) {
	return e.Session.NATS(ctx)
}

// The targets a runbook's Settle looks up, with what to do when missing.

func unknownNode(e *Env, node string) error {
	return fmt.Errorf("no node %q in %s: check the name (dcctl status lists them)", node, e.Inv.File)
}

func knownDomain(e *Env, domain string) error {
	if e.Inv.ClusterByDomain(domain) != nil {
		return nil
	}
	var ds []string
	for _, cl := range e.Inv.Clusters {
		ds = append(ds, cl.Domain)
	}
	return fmt.Errorf("no cluster of %s serves JetStream domain %q (domains: %s)", e.Inv.File, domain, strings.Join(ds, ", "))
}

// knownCluster refuses a named cluster that selected nothing.
func knownCluster(e *Env, selected []*inventory.Cluster, name string) error {
	if len(selected) > 0 {
		return nil
	}
	var cs []string
	for _, cl := range e.Inv.Clusters {
		cs = append(cs, cl.Name)
	}
	return fmt.Errorf("no cluster %q in %s (clusters: %s)", name, e.Inv.File, strings.Join(cs, ", "))
}

// metaLeader asserts domain has a meta leader and a healthy quorum: without
// one, no stream can be created, changed or peer-removed (error 10008).
func metaLeader(e *Env, domain string) Check {
	return Check{Name: fmt.Sprintf("metaLeader(%s)", domain), Run: func(ctx context.Context) error {
		nc, err := e.nats(ctx)
		if err != nil {
			return err
		}
		// settle: a meta leader election after a crash takes about 4 s
		// (docs/nats-facts.md), and our connection may be moving to
		// another server.
		return e.settle(ctx, func() error {
			m, err := nc.Meta(ctx, domain)
			if err != nil {
				return err
			}
			if err := m.QuorumHealthy(); err != nil {
				// The silent servers may be down, or running behind a cut between
				// DCs: restoring those would be the wrong move, so both are said.
				return fmt.Errorf("%w (a server that is down: dcctl runbook restore-node NODE brings it back; servers that run but do not answer may be behind a cut between DCs, which heals by itself: dcctl status says which)", err)
			}
			return nil
		})
	}}
}

// metaQuorumWithout asserts domain keeps its meta quorum without node.
func metaQuorumWithout(e *Env, domain, node string) Check {
	return Check{Name: fmt.Sprintf("metaQuorumWithout(%s)", node), Run: func(ctx context.Context) error {
		nc, err := e.nats(ctx)
		if err != nil {
			return err
		}
		return e.settle(ctx, func() error {
			m, err := nc.Meta(ctx, domain)
			if err != nil {
				return err
			}
			return m.QuorumWithout(node)
		})
	}}
}

// onlineServers lists the healthy members of domain's meta group: the
// servers a new replica can be placed on.
func onlineServers(ctx context.Context, e *Env, domain string) ([]string, error) {
	nc, err := e.nats(ctx)
	if err != nil {
		return nil, err
	}
	m, err := nc.Meta(ctx, domain)
	if err != nil {
		return nil, err
	}
	return m.HealthyPeers(""), nil
}

// enoughServers asserts domain has at least n online servers for a stream of
// n replicas (each replica needs its own server).
func enoughServers(e *Env, domain string, n *int) Check {
	return Check{Name: fmt.Sprintf("enoughServers(%s)", domain), Run: func(ctx context.Context) error {
		return e.settle(ctx, func() error {
			on, err := onlineServers(ctx, e, domain)
			if err != nil {
				return err
			}
			if len(on) < *n {
				return refuseUnlessAwaited(e, domain, nil, on, fmt.Errorf("domain %q has %d online servers (%s), %d replicas need %d: choose fewer replicas or bring servers back",
					domain, len(on), strings.Join(on, ", "), *n, *n))
			}
			return nil
		})
	}}
}

// recordBaseline reads stream's baseline into dst and journals it. It reads
// every message of the stream as it is when the check starts; a stream that
// takes writes meanwhile is fine (see jetstream.Record). s is read when the
// check runs: an earlier check may have found its account.
func recordBaseline(e *Env, domain string, s *streamRef, dst *jetstream.Baseline) Check {
	return Check{Name: fmt.Sprintf("baseline(%s)", e.label(*s)), Run: func(ctx context.Context) error {
		nc, err := e.natsIn(ctx, s.Account)
		if err != nil {
			return err
		}
		b, err := nc.Record(ctx, domain, s.Name)
		if err != nil {
			return fmt.Errorf("%w: without a baseline the outcome cannot be proven; retry once the stream has a leader", err)
		}
		*dst = b
		e.Journal.Baseline("before", e.label(*s), b)
		return nil
	}}
}

// streamDataIntact proves that the messages stream held when want was
// recorded are still there, unchanged, allowing messages published since
// (jetstream.Prove). Which proof held is shown and journaled: the whole
// recorded range, the part the stream's limits kept, or, for a work-queue or
// interest stream whose consumers took messages, "last sequence not behind
// and replicas current" (the check before this one).
func streamDataIntact(e *Env, domain string, s *streamRef, want *jetstream.Baseline) Check {
	return Check{Name: fmt.Sprintf("streamDataIntact(%s)", e.label(*s)), Run: func(ctx context.Context) error {
		nc, err := e.natsIn(ctx, s.Account)
		if err != nil {
			return err
		}
		p, err := nc.Prove(ctx, domain, s.Name, *want)
		if err != nil {
			return fmt.Errorf("cannot prove the data of stream %s intact: %w", e.label(*s), err)
		}
		e.proof(p)
		return nil
	}}
}

// recordLastSeqs notes the last sequence of every stream of domain that
// answers, in every JetStream account (one STREAM.LIST each): the baseline of a runbook that moves no data.
// Reading every message of every stream to prove a restart harmless would
// cost more than the restart; a restart that lost acknowledged messages
// shows as a stream behind its recorded last sequence. With optional, a
// domain that cannot list its streams (no meta leader: restore-node is how
// it gets one back) is journaled and not refused.
func recordLastSeqs(e *Env, domain string, dst map[streamRef]uint64, optional bool) Check {
	return Check{Name: fmt.Sprintf("lastSequences(%s)", domain), Run: func(ctx context.Context) error {
		list, err := domainStreams(ctx, e, domain)
		if err != nil {
			if !optional {
				return err
			}
			e.Journal.Write(Entry{Phase: "pre-check", Name: fmt.Sprintf("lastSequences(%s)", domain), Result: "skipped",
				Detail: "no stream baseline: " + err.Error()})
			return nil
		}
		for _, st := range list.Streams {
			dst[refOf(st)] = st.LastSeq
		}
		if len(list.Missing) > 0 {
			e.Journal.Write(Entry{Phase: "pre-check", Name: fmt.Sprintf("lastSequences(%s)", domain), Result: "partial",
				Detail: "no baseline of streams without a leader: " + strings.Join(list.Missing, ", ")})
		}
		return nil
	}}
}

// streamsNotBehind proves, for every stream recordLastSeqs noted, that it is
// still there and its last sequence is not behind the recorded one (the
// replicas-current part of the proof is the check before it).
func streamsNotBehind(e *Env, domain string, rec map[streamRef]uint64) Check {
	return Check{Name: fmt.Sprintf("streamsNotBehind(%s)", domain), Run: func(ctx context.Context) error {
		if len(rec) == 0 {
			return nil
		}
		refs := make([]streamRef, 0, len(rec))
		for s := range rec {
			refs = append(refs, s)
		}
		sort.Slice(refs, func(i, j int) bool { return e.label(refs[i]) < e.label(refs[j]) })
		// Right after a restart the stream list may time out or miss a
		// stream whose leader is being elected (the meta leader waits for
		// every stream leader's answer): what fails must stand a while.
		now := map[streamRef]jetstream.StreamState{}
		err := e.settle(ctx, func() error {
			list, err := domainStreams(ctx, e, domain)
			if err != nil {
				return err
			}
			clear(now)
			for _, st := range list.Streams {
				now[refOf(st)] = st
			}
			var bad []string
			for _, s := range refs {
				st, ok := now[s]
				switch {
				case !ok:
					bad = append(bad, fmt.Sprintf("stream %s did not answer (gone, or without a leader)", e.label(s)))
				case st.LastSeq < rec[s]:
					bad = append(bad, fmt.Sprintf("stream %s: last sequence %d is behind the recorded %d: acknowledged messages are gone", e.label(s), st.LastSeq, rec[s]))
				}
			}
			if len(bad) > 0 {
				return fmt.Errorf("%s", strings.Join(bad, "; "))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, s := range refs {
			st := now[s]
			e.proof(jetstream.Proof{Stream: s.Name, Account: s.Account, Kind: jetstream.ProofLastSeq, From: st.FirstSeq, To: rec[s], LastSeq: st.LastSeq})
		}
		return nil
	}}
}

// proof shows which proof held for a stream, in the log and the journal.
func (e *Env) proof(p jetstream.Proof) {
	name := e.label(streamRef{p.Account, p.Stream})
	if e.Out != nil {
		fmt.Fprintf(e.Out, "          stream %s proven by %s\n", name, p)
	}
	e.Journal.Write(Entry{Phase: "proof", Name: name, Result: p.Kind, Detail: p.String(), Proof: &p})
}

// streamReplicasCurrent asserts stream has n replicas (0: its configured
// count), a leader and every follower current, waiting for a catch-up to end.
func streamReplicasCurrent(e *Env, domain string, s *streamRef, n int) Check {
	return Check{Name: fmt.Sprintf("streamReplicasCurrent(%s)", e.label(*s)), Run: func(ctx context.Context) error {
		return waitStreamCurrent(ctx, e, domain, *s, n, nil)
	}}
}

// waitStreamCurrent waits (up to the env's timeout) for stream to be whole,
// reporting each lagging replica.
func waitStreamCurrent(ctx context.Context, e *Env, domain string, s streamRef, n int, progress func(string)) error {
	nc, err := e.natsIn(ctx, s.Account)
	if err != nil {
		return err
	}
	stream := e.label(s)
	ctx, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()
	err = nc.WaitStreamCurrent(ctx, domain, s.Name, n, func(st jetstream.StreamState) {
		if progress == nil {
			return
		}
		var parts []string
		for _, f := range st.Followers {
			lag := f.Lag
			if f.Healthy() {
				lag = 0
			}
			// A replica that is online and lags is a bar on a terminal.
			if !f.Offline && e.Session.ReportCatchUp(f.Name, stream, lag) {
				continue
			}
			if !f.Healthy() {
				state := fmt.Sprintf("lag %d", f.Lag)
				if f.Offline {
					state = "offline"
				}
				parts = append(parts, fmt.Sprintf("%s %s", f.Name, state))
			}
		}
		if have := 1 + len(st.Followers); st.Leader == "" || have < st.Replicas {
			parts = append(parts, fmt.Sprintf("%d of %d replicas placed", len(st.Peers()), st.Replicas))
		}
		if len(parts) > 0 {
			progress(fmt.Sprintf("stream %s: waiting for %s", stream, strings.Join(parts, ", ")))
		}
	})
	if err != nil {
		return fmt.Errorf("stream %s is not whole (waited up to %s): %w", stream, e.timeout(), err)
	}
	return nil
}

// waitStream reads stream (up to the env's timeout) until done accepts its
// state; done may report progress. The error names the stream and the wait.
func waitStream(ctx context.Context, e *Env, domain string, s streamRef, done func(*jetstream.StreamState) error) error {
	nc, err := e.natsIn(ctx, s.Account)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()
	err = jetstream.Poll(wctx, jetstream.PollInterval, func() error {
		st, err := nc.Stream(wctx, domain, s.Name)
		if err != nil {
			return err
		}
		return done(st)
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fmt.Errorf("stream %s (waited %s): %w", e.label(s), e.timeout(), err)
}

// allStreamsCurrent asserts every stream of domain, in every account, is
// whole.
func allStreamsCurrent(e *Env, domain string) Check {
	return Check{Name: fmt.Sprintf("allStreamsCurrent(%s)", domain), Run: func(ctx context.Context) error {
		list, err := domainStreams(ctx, e, domain)
		if err != nil {
			return err
		}
		if len(list.Missing) > 0 {
			return fmt.Errorf("streams without a leader in domain %q: %s", domain, strings.Join(list.Missing, ", "))
		}
		for _, st := range list.Streams {
			if err := waitStreamCurrent(ctx, e, domain, refOf(st), 0, nil); err != nil {
				return err
			}
		}
		return nil
	}}
}

// settle retries check until it passes or the NATS connection's settle
// window has passed (jetstream.SettleWindow: two request timeouts and a
// margin): a healthy follower is briefly reported not current now and then
// (a heartbeat late under load), an election takes seconds, and refusing on
// that would send the operator hunting for a problem that is not there.
func (e *Env) settle(ctx context.Context, check func() error) error {
	nc, err := e.nats(ctx)
	if err != nil {
		return err
	}
	return nc.Settle(ctx, check)
}

// unitDown reports whether node's unit is down as far as its host can tell.
func unitDown(state string) bool {
	switch state {
	case "active", "activating", "reloading", "deactivating", "refreshing":
		return false
	}
	return true
}
