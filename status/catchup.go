package status

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dcctl/dcctl/jetstream"
)

// A stream leader reports a follower current only when it has persisted
// every entry the leader has a quorum on (nats-server's raft Peers), so on a
// stream taking writes a healthy follower is often a message or two behind
// at the instant asked. Status tells that apart from a follower that is stuck
// by asking once more a moment later, as `nats server check stream` tolerates
// lag below a threshold.
const (
	// resampleAfter is the pause before the second look: nats-server's raft
	// heartbeat, within which a live follower with nothing new to take is
	// brought up to date.
	resampleAfter = time.Second
	// staleAfter: a follower the leader has not heard from for this long
	// is not keeping up, whatever its lag (a live one answers every append
	// and every one-second heartbeat).
	staleAfter = 3 * time.Second
	// catchUpLag is the most entries a follower may stay behind on a stream
	// taking writes without its lag shrinking.
	catchUpLag = 1000
)

// needsResample reports whether any stream of the list has an online
// follower that is not current: only then is the second look worth its wait.
func needsResample(l *jetstream.StreamList) bool {
	if l == nil {
		return false
	}
	for _, st := range l.Streams {
		for _, f := range st.Followers {
			if !f.Current && !f.Offline {
				return true
			}
		}
	}
	return false
}

// resample asks for the domain's streams again after resampleAfter, within
// ctx; nil when ctx ended first or the request failed (the first look then
// stands alone).
func resample(ctx context.Context, list func(context.Context) (*jetstream.StreamList, error)) *jetstream.StreamList {
	t := time.NewTimer(resampleAfter)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-t.C:
	}
	l, err := list(ctx)
	if err != nil {
		return nil
	}
	return l
}

// judgeStream says what is wrong with st, the latest look at a stream, given
// prev, the look before it (nil when there was none): problem is "" when the
// stream is whole, catching names followers that are behind but catching up.
func judgeStream(st jetstream.StreamState, prev *jetstream.StreamState) (problem string, catching []string) {
	err := st.Current()
	if err == nil {
		return "", nil
	}
	if st.Leader == "" || 1+len(st.Followers) != st.Replicas {
		return err.Error(), nil
	}
	var bad []string
	for _, f := range st.Followers {
		var was *jetstream.Peer
		advanced := false
		if prev != nil && prev.Leader == st.Leader {
			was = follower(prev, f.Name)
			advanced = st.LastSeq > prev.LastSeq
		}
		ok, why := judgeFollower(f, was, advanced)
		switch {
		case !ok:
			bad = append(bad, why)
		case why != "":
			catching = append(catching, why)
		}
	}
	if len(bad) > 0 {
		return fmt.Sprintf("stream %s replicas not current: %s", st.Name, strings.Join(bad, ", ")), catching
	}
	return "", catching
}

// judgeFollower: ok false is a follower that is offline, not heard from
// lately or not catching up; ok true with a reason is one catching up.
// was is the same follower in the earlier look (nil when there was none, or
// the stream had another leader), advanced whether the stream took writes
// in between.
func judgeFollower(f jetstream.Peer, was *jetstream.Peer, advanced bool) (ok bool, why string) {
	switch {
	case f.Offline:
		return false, f.Name + " offline"
	case f.Current:
		return true, ""
	case f.Active <= 0 && f.Lag == 0:
		// The leader keeps no count for it: a new replica not yet caught
		// up. (No active time with a lag is a follower heard from while
		// the leader answered: nats-server reads the clock first.)
		return false, fmt.Sprintf("%s not current (lag 0), not heard from", f.Name)
	case f.Active >= staleAfter:
		return false, fmt.Sprintf("%s not current (lag %d), last heard %s ago", f.Name, f.Lag, fmtDuration(f.Active))
	case was == nil:
		return false, fmt.Sprintf("%s not current (lag %d)", f.Name, f.Lag)
	case was.Current || f.Lag < was.Lag:
		return true, fmt.Sprintf("%s catching up: %d behind", f.Name, f.Lag)
	case advanced && f.Lag <= catchUpLag:
		return true, fmt.Sprintf("%s catching up: %d behind on a stream taking writes", f.Name, f.Lag)
	default:
		return false, fmt.Sprintf("%s not current and not catching up (lag %d, was %d)", f.Name, f.Lag, was.Lag)
	}
}

func follower(st *jetstream.StreamState, name string) *jetstream.Peer {
	for i := range st.Followers {
		if st.Followers[i].Name == name {
			return &st.Followers[i]
		}
	}
	return nil
}

// earlier finds st in the first look at the domain's streams.
func earlier(l *jetstream.StreamList, st jetstream.StreamState) *jetstream.StreamState {
	if l == nil {
		return nil
	}
	for i := range l.Streams {
		if o := &l.Streams[i]; o.Name == st.Name && o.Account == st.Account {
			return o
		}
	}
	return nil
}
