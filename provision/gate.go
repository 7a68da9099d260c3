package provision

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/dcctl/dcctl/jetstream"
)

// The health gate shared by provision's rolling restarts and the runbooks:
// before a node goes down, its cluster must be able to lose it; after it
// comes back, it must be healthy, a current meta peer, and its stream
// replicas current again.

// GateBefore waits (up to timeout) until node can go down without its
// domain losing meta quorum or any stream losing its only current copies.
// warn, if not nil, hears about the outages it allows (an R1 stream on node
// is unavailable while node restarts).
func (s *Session) GateBefore(ctx context.Context, node string, timeout time.Duration, warn func(string)) error {
	if warn == nil {
		warn = func(string) {}
	}
	n := s.Inv.Node(node)
	domain := s.Inv.Domain(n)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		nc, err := s.NATS(ctx)
		if err == nil {
			var warnings []string
			warnings, last = nc.CanRestart(ctx, domain, node)
			if last == nil {
				for _, w := range warnings {
					warn(w)
				}
				return nil
			}
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s cannot be taken down safely (waited %s): %w", node, timeout, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// GateAfter waits (up to timeout) until node answers /healthz with 200, is a
// current member of its domain's meta group, and its replica of every stream
// it holds one of is current. progress, if not nil, hears what it waits for.
func (s *Session) GateAfter(ctx context.Context, node string, timeout time.Duration, progress func(string)) error {
	n := s.Inv.Node(node)
	domain := s.Inv.Domain(n)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	say := func(msg string) {
		if progress != nil {
			progress(msg)
		}
	}
	if err := s.WaitHealthz(ctx, node); err != nil {
		return err
	}
	say("healthz 200; waiting to be a current meta peer")
	nc, err := s.NATS(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", node, err)
	}
	if err := nc.WaitMetaPeer(ctx, domain, node, true); err != nil {
		return fmt.Errorf("%s is not back as a current meta peer of domain %s (waited %s): %w", node, domain, timeout, err)
	}
	// Right after a restart the domain's API can miss a request while routes
	// and leafnode interest settle: retry until the gate's deadline.
	var list *jetstream.StreamList
	for {
		list, err = nc.Streams(ctx, domain)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: list streams of domain %s: %w", node, domain, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	for _, st := range list.Streams {
		if !st.HasPeer(node) || st.Replicas < 2 {
			continue
		}
		say("waiting for stream " + st.Name + ": replica on " + node + " to be current")
		if err := waitReplicaCurrent(ctx, nc, domain, st.Name, node, say); err != nil {
			return fmt.Errorf("%s: stream %s: its replica is not current (waited %s): %w", node, st.Name, timeout, err)
		}
	}
	return nil
}

// waitReplicaCurrent waits until stream has a leader and node's replica is
// online and caught up. Only node's own replica: other replicas may be down
// (restoring one of two dead nodes), and the next node's before-gate is what
// requires them current before it is touched.
func waitReplicaCurrent(ctx context.Context, nc *jetstream.Conn, domain, stream, node string, say func(string)) error {
	var last error
	for {
		st, err := nc.Stream(ctx, domain, stream)
		switch {
		case err != nil:
			last = err
		case st.Leader == "":
			last = fmt.Errorf("stream %s has no leader", stream)
		case st.Leader == node:
			return nil
		default:
			last = fmt.Errorf("%s is not among the replicas of stream %s yet", node, stream)
			for _, f := range st.Followers {
				if f.Name != node {
					continue
				}
				if f.Healthy() {
					return nil
				}
				last = fmt.Errorf("replica %s: current %v, offline %v, lag %d", node, f.Current, f.Offline, f.Lag)
				say(fmt.Sprintf("stream %s: replica %s lag %d", stream, node, f.Lag))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// WaitHealthz polls node's /healthz until it answers 200 or ctx ends.
func (s *Session) WaitHealthz(ctx context.Context, node string) error {
	var last error
	for {
		code, err := s.Healthz(ctx, node, "/healthz")
		switch {
		case err == nil && code == http.StatusOK:
			return nil
		case err == nil:
			last = fmt.Errorf("/healthz answered %d", code)
		default:
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return fmt.Errorf("%s is not healthy: %w", node, errors.Join(last))
		case <-time.After(300 * time.Millisecond):
		}
	}
}
