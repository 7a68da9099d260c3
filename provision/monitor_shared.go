package provision

import (
	"context"
	"time"
)

// A new cluster's nodes wait for their meta group all at once, and each
// node's look reads every node of its domain (/jsz): ten nodes polling
// every 100 ms made ~35 requests through SSH per poll, on hosts busy
// electing their first leaders. sharedAnswer lets those waits share one
// answer per node and path while it is younger than half a poll: the same
// views, a third of the requests.

// sharedAnswer is one monitoring answer, or the fetch of it under way.
type sharedAnswer struct {
	ready chan struct{} // closed once body and err are set
	at    time.Time
	body  []byte
	err   error
}

// sharedMonitor is Session.monitor with answers shared for maxAge among
// callers; a caller that finds a fetch under way waits for it.
func (s *Session) sharedMonitor(maxAge time.Duration) func(ctx context.Context, node, path string) ([]byte, error) {
	return func(ctx context.Context, node, path string) ([]byte, error) {
		key := node + " " + path
		s.mu.Lock()
		if s.shared == nil {
			s.shared = map[string]*sharedAnswer{}
		}
		a := s.shared[key]
		if a != nil {
			select {
			case <-a.ready:
				if time.Since(a.at) >= maxAge {
					a = nil
				}
			default: // under way: wait for it below
			}
		}
		fetch := a == nil
		if fetch {
			a = &sharedAnswer{ready: make(chan struct{})}
			s.shared[key] = a
		}
		s.mu.Unlock()
		if fetch {
			a.body, a.err = s.monitor(ctx, node, path)
			a.at = time.Now()
			if ctx.Err() != nil {
				// This caller's end is not the others' answer.
				s.mu.Lock()
				if s.shared[key] == a {
					delete(s.shared, key)
				}
				s.mu.Unlock()
			}
			close(a.ready)
			return a.body, a.err
		}
		select {
		case <-a.ready:
			return a.body, a.err
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}
