package status

import (
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/jetstream"
)

// stream is an R3 stream as its leader reports it: b and c are followers.
func stream(lastSeq uint64, b, c jetstream.Peer) jetstream.StreamState {
	b.Name, c.Name = "node-b", "node-c"
	return jetstream.StreamState{Name: "orders", Replicas: 3, Leader: "node-a", LastSeq: lastSeq, Followers: []jetstream.Peer{b, c}}
}

var current = jetstream.Peer{Current: true, Active: 80 * time.Millisecond}

func behind(lag uint64, active time.Duration) jetstream.Peer {
	return jetstream.Peer{Lag: lag, Active: active}
}

// TestJudgeStream: a follower a few entries behind whose lag shrinks, or
// that keeps pace with a stream taking writes, is catching up (a notice);
// one offline, not heard from, or whose lag does not shrink is a problem.
func TestJudgeStream(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name        string
		prev, now   jetstream.StreamState
		noPrev      bool
		problem     string // "" for none, else a part of it
		catchingFor string // the follower named as catching up, "" for none
	}{
		{name: "all current", prev: stream(10, current, current), now: stream(12, current, current)},
		{name: "one behind under writes, was current", prev: stream(100, current, current), now: stream(140, current, behind(1, 2*ms)), catchingFor: "node-c"},
		{name: "behind by more under writes", prev: stream(100, current, behind(1, ms)), now: stream(140, current, behind(3, ms)), catchingFor: "node-c"},
		{name: "lag shrinks, no writes", prev: stream(100, current, behind(400, ms)), now: stream(100, current, behind(20, ms)), catchingFor: "node-c"},
		{name: "lag stays, no writes", prev: stream(100, current, behind(2, ms)), now: stream(100, current, behind(2, ms)), problem: "node-c not current and not catching up (lag 2, was 2)"},
		{name: "large lag grows under writes", prev: stream(5000, current, behind(1500, ms)), now: stream(9000, current, behind(2100, ms)), problem: "node-c not current and not catching up"},
		{name: "not heard from lately", prev: stream(100, current, behind(2, 2*time.Second)), now: stream(140, current, behind(1, 4*time.Second)), problem: "node-c not current (lag 1), last heard"},
		{name: "never heard from", prev: stream(100, current, behind(0, 0)), now: stream(100, current, behind(0, 0)), problem: "not heard from"},
		{name: "heard from as the leader answered", prev: stream(100, current, behind(2, ms)), now: stream(140, current, behind(2, 0)), catchingFor: "node-c"},
		{name: "offline", prev: stream(100, current, current), now: stream(140, current, jetstream.Peer{Offline: true, Lag: 3, Active: ms}), problem: "node-c offline"},
		{name: "no second look", now: stream(140, current, behind(1, ms)), noPrev: true, problem: "node-c not current (lag 1)"},
		{name: "replica missing", prev: stream(100, current, current), now: jetstream.StreamState{Name: "orders", Replicas: 3, Leader: "node-a", Followers: []jetstream.Peer{{Name: "node-b", Current: true}}}, problem: "2 of 3 replicas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var prev *jetstream.StreamState
			if !tc.noPrev {
				prev = &tc.prev
			}
			problem, catching := judgeStream(tc.now, prev)
			if tc.problem == "" && problem != "" || tc.problem != "" && !strings.Contains(problem, tc.problem) {
				t.Errorf("problem %q, want %q", problem, tc.problem)
			}
			switch {
			case tc.catchingFor == "" && len(catching) > 0:
				t.Errorf("catching up %v, want none", catching)
			case tc.catchingFor != "" && (len(catching) != 1 || !strings.HasPrefix(catching[0], tc.catchingFor+" catching up: ")):
				t.Errorf("catching up %v, want %s", catching, tc.catchingFor)
			}
		})
	}
}

// A stream led by another server in the second look is judged on that look
// alone: the lags of two leaders do not compare.
func TestJudgeStreamNewLeader(t *testing.T) {
	prev := stream(100, current, behind(2, time.Millisecond))
	now := stream(140, current, behind(1, time.Millisecond))
	prev.Leader = "node-x"
	if problem, _ := judgeStream(now, &prev); !strings.Contains(problem, "node-c not current (lag 1)") {
		t.Errorf("problem %q", problem)
	}
}
