package provision

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/jetstream"
)

// The health gate shared by provision's rolling restarts and the runbooks:
// before a node goes down, its cluster must be able to lose it; after it
// comes back, it must be healthy, a current meta peer, and its stream
// replicas current again. Every check reads the monitoring endpoints
// (/healthz, /jsz) over SSH, never NATS with a user's password: a gate must
// not depend on the credentials that the change it guards may alter (a
// password rotation, or a secrets file restored after new passwords went
// out).

// gatePoll is how often a gate asks again: a restart takes seconds, and
// each look is an SSH round trip per server of the domain.
const gatePoll = 300 * time.Millisecond

// nodePoll is how often a wait on one node's state (/healthz, its meta
// peer, its leafnode links) looks again. A cluster's nodes come up within a
// second or two of each other: a coarser poll adds up to its own period to
// every wait, and the waits follow one another.
const nodePoll = 100 * time.Millisecond

// GateBefore waits (up to timeout) until node can go down without its
// domain losing meta quorum or any stream losing its only current copies.
// warn, if not nil, hears about the outages it allows (an R1 stream on node
// is unavailable while node restarts); waiting, if not nil, hears why node
// cannot go down yet, each time the reason changes: a wait of minutes with
// no word looks hung to the operator, who then cannot tell a peer that is
// down from one that is catching up.
func (s *Session) GateBefore(ctx context.Context, node string, timeout time.Duration, warn, waiting func(string)) error {
	if warn == nil {
		warn = func(string) {}
	}
	if waiting == nil {
		waiting = func(string) {}
	}
	n := s.Inv.Node(node)
	if err := RestartNeverSafe(s.Inv.ClusterOf(n)); err != nil {
		return fmt.Errorf("%s cannot be taken down safely: %w", node, err)
	}
	domain := s.Inv.Domain(n)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	mon := s.Monitor()
	var warnings []string
	said := ""
	err := jetstream.Poll(ctx, gatePoll, func() (err error) {
		warnings, err = mon.CanRestart(ctx, domain, node)
		if err != nil && ctx.Err() == nil && err.Error() != said {
			said = err.Error()
			waiting("waiting: " + said)
		}
		return err
	})
	if err != nil {
		return gateBeforeFailed(node, timeout, err)
	}
	for _, w := range warnings {
		warn(w)
	}
	return nil
}

// gateBeforeFailed says why node could not go down: the last reason the
// gate heard (it read "cannot be taken down safely (waited 3m0s): context
// deadline exceeded (last: NODE cannot be taken down safely: ...)", the
// verdict twice), or what else ended the wait. The error still wraps the
// wait's (errors.Is finds its deadline or cancellation).
func gateBeforeFailed(node string, timeout time.Duration, err error) error {
	var unsafe *jetstream.UnsafeError
	if errors.As(err, &unsafe) && errors.Is(err, context.DeadlineExceeded) {
		return &gateError{msg: fmt.Sprintf("%s cannot be taken down safely (waited %s): %s", node, timeout, strings.Join(unsafe.Reasons, "; ")), err: err}
	}
	return fmt.Errorf("%s cannot be taken down safely (waited %s): %w", node, timeout, err)
}

// gateError is a gate's failure worded for the operator, wrapping the
// wait's error for errors.Is and errors.As.
type gateError struct {
	msg string
	err error
}

func (e *gateError) Error() string { return e.msg }
func (e *gateError) Unwrap() error { return e.err }

// RestartNeverSafe: in a cluster of two, one node down leaves one of the two
// votes its meta quorum needs, however healthy the other is: no wait can
// make a restart safe.
func RestartNeverSafe(cl *inventory.Cluster) error {
	active := len(cl.Active())
	if active > 2 {
		return nil
	}
	return fmt.Errorf("cluster %s has %d nodes: its meta group loses quorum whenever one is down, so no restart of its nodes is safe. "+
		"Grow it to 3 nodes, or take the outage and restart each node with `dcctl node restart NODE`", cl.Name, active)
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
	mon := s.Monitor()
	if err := jetstream.Poll(ctx, nodePoll, func() error { return mon.MetaPeerCurrent(ctx, domain, node) }); err != nil {
		return fmt.Errorf("%s is not back as a current meta peer of domain %s (waited %s): %w", node, domain, timeout, err)
	}
	// Right after a restart a stream's leader may not answer yet: retry
	// until the gate's deadline. A stream with a replica on node and no
	// leader is not served: the node is not whole until it has one (the
	// list carries such a stream only in Missing, where the loop below
	// would never look).
	var list *jetstream.StreamList
	if err := jetstream.Poll(ctx, gatePoll, func() (err error) {
		if list, err = mon.Streams(ctx, domain); err != nil {
			return err
		}
		return leaderlessOn(s.Inv, list, node)
	}); err != nil {
		return fmt.Errorf("%s is not whole (waited %s): %w", node, timeout, err)
	}
	for _, st := range list.Streams {
		if !st.HasPeer(node) || st.Replicas < 2 {
			continue
		}
		label := s.Inv.StreamLabel(st.Account, st.Name)
		say("waiting for stream " + label + ": replica on " + node + " to be current")
		if err := waitReplicaCurrent(ctx, mon, domain, st.Account, st.Name, node, func(lag uint64, current bool) {
			if !s.ReportCatchUp(node, label, lag) && !current {
				say(fmt.Sprintf("stream %s: replica %s lag %d", label, node, lag))
			}
		}); err != nil {
			return fmt.Errorf("%s: stream %s: its replica is not current (waited %s): %w", node, label, timeout, err)
		}
	}
	return nil
}

// leaderlessOn names the streams with a replica on node that have no
// leader answering.
func leaderlessOn(inv *inventory.Inventory, list *jetstream.StreamList, node string) error {
	var refs []string
	for ref, holders := range list.Holders {
		if slices.Contains(holders, node) {
			// keyed account/name: neither holds a slash
			account, name, ok := strings.Cut(ref, "/")
			if !ok {
				account, name = "", ref
			}
			refs = append(refs, fmt.Sprintf("%s (replicas on %s)", inv.StreamLabel(account, name), strings.Join(holders, ", ")))
		}
	}
	if len(refs) == 0 {
		return nil
	}
	sort.Strings(refs)
	return fmt.Errorf("stream %s has no leader: it takes no messages until a majority of its replicas is up and current", strings.Join(refs, ", stream "))
}

// waitReplicaCurrent waits until account's stream has a leader and node's replica is
// online and caught up; lag hears the replica's state at each look. Only
// node's own replica: other replicas may be down (restoring one of two dead
// nodes), and the next node's before-gate is what requires them current
// before it is touched.
func waitReplicaCurrent(ctx context.Context, mon jetstream.Monitor, domain, account, stream, node string, lag func(lag uint64, current bool)) error {
	return jetstream.Poll(ctx, gatePoll, func() error {
		list, err := mon.Streams(ctx, domain)
		if err != nil {
			return err
		}
		var st *jetstream.StreamState
		for i := range list.Streams {
			if list.Streams[i].Name == stream && list.Streams[i].Account == account {
				st = &list.Streams[i]
			}
		}
		switch {
		case st == nil:
			return fmt.Errorf("stream %s has no leader that answers", jetstream.StreamRef(account, stream))
		case st.Leader == node:
			lag(0, true)
			return nil
		}
		for _, f := range st.Followers {
			if f.Name != node {
				continue
			}
			if f.Healthy() {
				lag(0, true)
				return nil
			}
			lag(f.Lag, false)
			return fmt.Errorf("replica %s: current %v, offline %v, lag %d", node, f.Current, f.Offline, f.Lag)
		}
		return fmt.Errorf("%s is not among the replicas of stream %s yet", node, stream)
	})
}

// WaitHealthz polls node's /healthz until it answers 200 or ctx ends.
func (s *Session) WaitHealthz(ctx context.Context, node string) error {
	err := jetstream.Poll(ctx, nodePoll, func() error {
		code, why, err := s.healthz(ctx, node, "/healthz")
		switch {
		case err != nil:
			return err
		case code != http.StatusOK && why != "":
			return fmt.Errorf("/healthz answered %d: %s", code, why)
		case code != http.StatusOK:
			return fmt.Errorf("/healthz answered %d", code)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s is not healthy: %w", node, err)
	}
	return nil
}
