package lock

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestHeartbeatFromTheFutureSaysTheClockWasSetBack: the heartbeat is the
// lock file's mtime, and its age is read with the host's own clock, so
// skew between operators' machines and the hosts plays no part. A host
// whose clock was set back after the last heartbeat (an NTP step) shows a
// heartbeat from the future: the lock counts as held (its holder may be
// alive and refresh it within the interval), and the refusal says why and
// what to do, rather than "last heartbeat -1h0m0s ago".
func TestHeartbeatFromTheFutureSaysTheClockWasSetBack(t *testing.T) {
	ctx := ctxT(t)
	hosts := newHosts(t, "a")
	dead, err := Acquire(ctx, hosts, holder("dave@gone"), Options{Path: testPath, Heartbeat: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	_ = dead // never released: the process "died"
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(lockFile(hosts[0]), future, future); err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(ctx, hosts, holder("bob@ops2"), Options{Path: testPath, Expiry: time.Minute})
	if err == nil {
		t.Fatal("a lock whose heartbeat is in the future was taken over")
	}
	msg := err.Error()
	for _, want := range []string{"dave@gone", "in the future", "clock", "--break-lock"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "heartbeat -") {
		t.Errorf("refusal gives a negative age: %s", msg)
	}
}
