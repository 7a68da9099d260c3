package testwait_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testwait"
)

// fatalRecorder stands in for a test whose Fatalf ends the check being
// polled, so that Eventually's giving up can itself be tested.
type fatalRecorder struct {
	testing.TB
	msg string
}

type fatal struct{}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(fatal{})
}

// TestEventually: a check that passes on its third call ends the wait there;
// one that never passes fails the test after the timeout, with what was
// awaited and the last error.
func TestEventually(t *testing.T) {
	calls := 0
	testwait.Eventually(t, 10*time.Second, "third call", func() error {
		calls++
		if calls < 3 {
			return fmt.Errorf("call %d", calls)
		}
		return nil
	})
	if calls != 3 {
		t.Fatalf("check called %d times, want 3", calls)
	}

	r := &fatalRecorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(fatal); !ok {
					panic(p)
				}
			}
		}()
		n := 0
		testwait.Eventually(r, 300*time.Millisecond, "never", func() error {
			n++
			return fmt.Errorf("still no %d", n)
		})
	}()
	if !strings.HasPrefix(r.msg, "never: not within 300ms: still no ") {
		t.Fatalf("Eventually gave up with %q, want what was awaited, the timeout and the last error", r.msg)
	}
}

// TestEventuallyInCleanup: a cleanup may wait too, although the test's
// context has ended by then (tests repair what they broke and wait until it
// is healthy again).
func TestEventuallyInCleanup(t *testing.T) {
	t.Cleanup(func() {
		calls := 0
		testwait.Eventually(t, 10*time.Second, "second call", func() error {
			calls++
			if calls < 2 {
				return fmt.Errorf("call %d", calls)
			}
			return nil
		})
	})
}
