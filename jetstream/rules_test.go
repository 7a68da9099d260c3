package jetstream

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMetaQuorumRule: the one meta quorum rule (gates, runbooks, status):
// a leader and Quorum members online and current, with or without a
// server taken away.
func TestMetaQuorumRule(t *testing.T) {
	m := &MetaGroup{Domain: "core", Leader: "a", Size: 5, Quorum: 3, Peers: []Peer{
		{Name: "a", Leader: true, Current: true}, {Name: "b", Current: true}, {Name: "c", Current: true},
		{Name: "d", Offline: true}, {Name: "e", Current: false, Lag: 7},
	}, Responded: []string{"a", "b", "c", "e"}}
	if got := m.HealthyPeers(""); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("healthy peers %v", got)
	}
	if got := m.HealthyPeers("b"); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("healthy peers without b %v", got)
	}
	if err := m.QuorumHealthy(); err != nil {
		t.Errorf("3 of 5 healthy, quorum 3: %v", err)
	}
	err := m.QuorumWithout("c")
	for _, want := range []string{`"core"`, "without c", "2 healthy peers left, 3 needed", "d offline", "e not current (lag 7)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("without c: %v, want it to say %q", err, want)
		}
	}
	if err := m.QuorumWithout("d"); err != nil {
		t.Errorf("losing an offline peer costs nothing: %v", err)
	}
	m.Peers[2].Current = false
	if err := m.QuorumHealthy(); err == nil || !strings.Contains(err.Error(), "2 healthy peers, 3 needed") {
		t.Errorf("2 of 5 healthy: %v", err)
	}
	m.Leader = ""
	if err := m.QuorumHealthy(); err == nil || !strings.Contains(err.Error(), "no meta leader (4 of 5 servers answered: a, b, c, e)") {
		t.Errorf("no leader: %v", err)
	}
}

// TestStreamMajorityRule: a stream keeps a leader-electing majority of
// current replicas without a server, the leader counted, a lagging or
// offline follower not.
func TestStreamMajorityRule(t *testing.T) {
	st := StreamState{Name: "orders", Replicas: 3, Leader: "a", Followers: []Peer{{Name: "b", Current: true}, {Name: "c", Offline: true}}}
	if st.Quorum() != 2 || st.CurrentWithout("") != 2 {
		t.Fatalf("quorum %d, current %d", st.Quorum(), st.CurrentWithout(""))
	}
	if err := st.MajorityWithout("c"); err != nil {
		t.Errorf("without its offline replica: %v", err)
	}
	for _, gone := range []string{"a", "b"} {
		if err := st.MajorityWithout(gone); err == nil || !strings.Contains(err.Error(), "stream orders has 1 current replicas besides "+gone+", 2 needed") {
			t.Errorf("without %s: %v", gone, err)
		}
	}
	// Losing a current replica while the third is offline: the advice is to
	// bring the offline one back, not to wait for it (it cannot catch up).
	if r := streamSurvives(st, "sys/orders", "b"); !strings.Contains(r, "c offline") || !strings.Contains(r, "start c again (dcctl runbook restore-node c)") || strings.Contains(r, "wait for them") {
		t.Errorf("without b, c offline: %q", r)
	}
	behind := StreamState{Name: "orders", Replicas: 3, Leader: "a", Followers: []Peer{{Name: "b", Current: true}, {Name: "c", Current: false, Lag: 3}}}
	if r := streamSurvives(behind, "orders", "b"); !strings.Contains(r, "c not current (lag 3)") || !strings.Contains(r, "wait for them to catch up") {
		t.Errorf("without b, c behind: %q", r)
	}
	// A move under way (more peers than replicas) says so and how each
	// peer is, not "2 of 1 replicas".
	moving := StreamState{Name: "aud", Replicas: 1, Leader: "a", Followers: []Peer{{Name: "c", Offline: true}}}
	if err := moving.Current(); err == nil || !strings.Contains(err.Error(), "stream aud is moving to other servers: 2 peers for its 1 replica until the move ends (a leader, c offline)") {
		t.Errorf("moving: %v", err)
	}
	five := StreamState{Name: "r5", Replicas: 5, Leader: "", Followers: []Peer{{Name: "b", Current: true}, {Name: "c", Current: true}, {Name: "d", Current: true}}}
	if err := five.MajorityWithout("e"); err != nil {
		t.Errorf("R5 with 3 current followers and no leader yet keeps its majority: %v", err)
	}
}

// TestPoll: Poll retries until the check passes, stops at once on Stop,
// and on ctx's end returns ctx's error and the last reason, both
// matchable; PollFor gives up after its own bound with the reason as is.
func TestPoll(t *testing.T) {
	ctx := context.Background()
	n := 0
	if err := Poll(ctx, time.Millisecond, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || n != 3 {
		t.Errorf("Poll = %v after %d checks, want nil after 3", err, n)
	}
	refused := &UnsafeError{Server: "x", Reasons: []string{"no"}}
	n = 0
	err := Poll(ctx, time.Millisecond, func() error { n++; return Stop(refused) })
	if n != 1 || !errors.Is(err, refused) {
		t.Errorf("Poll on Stop = %v after %d checks", err, n)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	err = Poll(short, time.Millisecond, func() error { return refused })
	if !errors.Is(err, context.DeadlineExceeded) || !IsUnsafe(err) {
		t.Errorf("Poll past its deadline = %v, want the deadline and the last reason", err)
	}
	// A check that the deadline cuts short does not hide the reason before.
	short2, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	first := true
	err = Poll(short2, time.Millisecond, func() error {
		if first {
			first = false
			return refused
		}
		<-short2.Done()
		return short2.Err()
	})
	if !IsUnsafe(err) {
		t.Errorf("Poll whose last check the deadline cut = %v, want the reason before", err)
	}
	err = PollFor(ctx, 20*time.Millisecond, time.Millisecond, func() error { return refused })
	if err != error(refused) {
		t.Errorf("PollFor past its bound = %v, want the last reason as it is", err)
	}
}

// TestMetaPeerAbsentSaysWhy: a server missing from a led meta group may be
// one replace-peer --permanent removed and provision started again: the
// error (the last word of a wait for it) says so and what to do.
func TestMetaPeerAbsentSaysWhy(t *testing.T) {
	m := &MetaGroup{Domain: "core", Leader: "a", Size: 3, Quorum: 2, Peers: []Peer{
		{Name: "a", Leader: true, Current: true}, {Name: "b", Current: true}, {Name: "c", Current: true},
	}}
	err := metaPeerPresent(m, "core", "gone.1")
	if err == nil || !strings.Contains(err.Error(), "gone.1 is not in the meta group") || !strings.Contains(err.Error(), "if replace-peer --permanent removed it, take it out of the inventory") {
		t.Fatalf("absent peer: %v", err)
	}
	if err := metaPeerPresent(m, "core", "b"); err != nil {
		t.Fatalf("present peer: %v", err)
	}
}
