package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// WaitStreamCurrent waits until stream has replicas replicas (0: its
// configured count), a leader, and every follower online and current. It
// requires both the count and current because during a catch-up the replica
// list is briefly empty and then shows current:false with lag 0
// (docs/nats-facts.md).
// progress, when not nil, sees every state read. On ctx ending it returns the
// last reason the stream was not yet current.
func (c *Conn) WaitStreamCurrent(ctx context.Context, domain, stream string, replicas int, progress func(StreamState)) error {
	return Poll(ctx, PollInterval, func() error {
		st, err := c.Stream(ctx, domain, stream)
		if err != nil {
			return err
		}
		if progress != nil {
			progress(*st)
		}
		if replicas > 0 && st.Replicas != replicas {
			return fmt.Errorf("stream %s is configured for %d replicas, not %d", stream, st.Replicas, replicas)
		}
		return st.Current()
	})
}

// WaitMetaPeer waits until server is a current, online member of domain's
// meta group under a leader (or, with present false, no longer a member).
func (c *Conn) WaitMetaPeer(ctx context.Context, domain, server string, present bool) error {
	return Poll(ctx, PollInterval, func() error {
		m, err := c.Meta(ctx, domain)
		if err != nil {
			return err
		}
		if !present {
			if !m.HasLeader() {
				return fmt.Errorf("domain %q has no meta leader", domain)
			}
			if _, ok := m.Peer(server); ok {
				return fmt.Errorf("%s is still in the meta group of domain %q", server, domain)
			}
			return nil
		}
		return metaPeerPresent(m, domain, server)
	})
}

// metaPeerPresent returns nil when server is a current, online member of m
// under a leader.
func metaPeerPresent(m *MetaGroup, domain, server string) error {
	if !m.HasLeader() {
		return fmt.Errorf("domain %q has no meta leader", domain)
	}
	p, ok := m.Peer(server)
	switch {
	case !ok:
		// The last word of a wait that timed out: after a replace-peer whose
		// inventory edit was skipped, provision starts the removed server and
		// waits for it (an audit waited 3 minutes for this line).
		return fmt.Errorf("%s is not in the meta group of domain %q (if replace-peer --permanent removed it, take it out of the inventory: provision starts it again otherwise)", server, domain)
	case !p.Healthy():
		return fmt.Errorf("meta peer %s", p.describe())
	}
	return nil
}

// UnsafeError is returned by CanLose: it lists every reason losing the server
// now would cost availability or data.
type UnsafeError struct {
	Server  string
	Reasons []string
}

func (e *UnsafeError) Error() string {
	return fmt.Sprintf("%s cannot be taken down safely: %s", e.Server, strings.Join(e.Reasons, "; "))
}

// CanLose returns nil when server could go down now without domain losing
// its meta quorum and without any stream (of any of the Conn's accounts) it
// holds a replica of losing its
// leader or its only current copies: every other member of the meta group
// needed for quorum is online and current, and every stream with a replica on
// server is R2 or more with all its other replicas current. It returns an
// *UnsafeError listing every problem otherwise.
func (c *Conn) CanLose(ctx context.Context, domain, server string) error {
	_, err := canLose(ctx, everyAccount{c}, domain, server, false)
	return err
}

// CanRestart is CanLose for a planned restart: an R1 stream on server is not
// a refusal (it cannot be helped, and its data stays on disk) but a warning,
// returned so that the operator hears about the outage.
func (c *Conn) CanRestart(ctx context.Context, domain, server string) (warnings []string, err error) {
	return canLose(ctx, everyAccount{c}, domain, server, true)
}

// everyAccount is a Conn's view of a domain with the streams of all its
// accounts: a server holds replicas of streams of every account.
type everyAccount struct{ *Conn }

func (v everyAccount) Streams(ctx context.Context, domain string) (*StreamList, error) {
	return v.AllStreams(ctx, domain)
}

// clusterView is where canLose reads a domain's state: NATS requests (Conn)
// or the monitoring endpoints (Monitor).
type clusterView interface {
	Meta(ctx context.Context, domain string) (*MetaGroup, error)
	Streams(ctx context.Context, domain string) (*StreamList, error)
}

func canLose(ctx context.Context, c clusterView, domain, server string, allowR1 bool) (warnings []string, err error) {
	m, err := c.Meta(ctx, domain)
	if err != nil {
		return nil, fmt.Errorf("check whether %s can go down: %w", server, err)
	}
	unsafe := &UnsafeError{Server: server}
	if err := m.QuorumWithout(server); err != nil {
		unsafe.Reasons = append(unsafe.Reasons, err.Error())
		// Without a meta leader the streams cannot even be listed.
		if !m.HasLeader() {
			return nil, unsafe
		}
	}
	list, err := c.Streams(ctx, domain)
	if err != nil {
		return nil, fmt.Errorf("check whether %s can go down: %w", server, err)
	}
	for _, name := range list.Missing {
		unsafe.Reasons = append(unsafe.Reasons, fmt.Sprintf("stream %s did not report (no leader?)", name))
	}
	for _, st := range list.Streams {
		if !st.HasPeer(server) {
			continue
		}
		if allowR1 && st.Replicas < 2 {
			warnings = append(warnings, fmt.Sprintf("stream %s is R1 on %s: unavailable until %s is back", list.Label(st), server, server))
			continue
		}
		if st.Replicas == 2 {
			// Its other replica keeps every message, but a group of two
			// has no quorum with one gone: an outage like R1's, said the
			// same way.
			r := fmt.Sprintf("stream %s is R2 with a replica on %s: both replicas make its quorum, so it takes no writes until %s is back (an R3 stream keeps taking writes with one server down)", list.Label(st), server, server)
			if allowR1 {
				warnings = append(warnings, r)
			} else {
				unsafe.Reasons = append(unsafe.Reasons, r)
			}
		}
		if r := streamSurvives(st, list.Label(st), server); r != "" {
			unsafe.Reasons = append(unsafe.Reasons, r)
		}
	}
	if len(unsafe.Reasons) > 0 {
		return warnings, unsafe
	}
	return warnings, nil
}

// streamSurvives says why st (named label) would suffer from losing
// server, or "".
func streamSurvives(st StreamState, label, server string) string {
	if st.Replicas < 2 {
		return fmt.Sprintf("stream %s is R1 on %s: it is unavailable while %s is down (expand it first)", label, server, server)
	}
	if st.Leader == "" {
		return fmt.Sprintf("stream %s has no leader", label)
	}
	var bad, offline []string
	for _, f := range st.Followers {
		if f.Name != server && !f.Healthy() {
			bad = append(bad, f.describe())
			if f.Offline {
				offline = append(offline, f.Name)
			}
		}
	}
	if have := 1 + len(st.Followers); have < st.Replicas {
		bad = append(bad, fmt.Sprintf("only %d of %d replicas placed", have, st.Replicas))
	}
	switch {
	case len(offline) > 0:
		// An offline replica never catches up by waiting: "wait" would
		// keep the operator watching a gate that cannot open.
		node := "NODE"
		if len(offline) == 1 {
			node = offline[0]
		}
		return fmt.Sprintf("stream %s has other replicas not current (%s): an offline one does not catch up until its server is back: start %s again (dcctl runbook restore-node %s), or if it is gone move its replicas off it (dcctl runbook replace-peer %s)",
			label, strings.Join(bad, ", "), strings.Join(offline, ", "), node, node)
	case len(bad) > 0:
		return fmt.Sprintf("stream %s has other replicas not current (%s): wait for them to catch up", label, strings.Join(bad, ", "))
	}
	return ""
}

// IsUnsafe reports whether err is a CanLose refusal (as opposed to a failure
// to find out).
func IsUnsafe(err error) bool {
	var u *UnsafeError
	return errors.As(err, &u)
}
