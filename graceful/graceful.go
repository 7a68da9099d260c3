// Package graceful carries an operator's request to stop a run between
// steps. A run's context is cancelled only to abort (a second Ctrl-C, the
// deployment lock lost): that cuts short the SSH command under way, which
// can leave a node stopped, or restarted without its health gate passed.
// The first Ctrl-C instead asks the run to stop: the steps under way finish,
// each bounded by its own timeout, and no new one starts.
//
// The request rides on the context because every step boundary already has
// one, in every package that runs steps (provision's rollout, the runbooks,
// a runbook step that runs a rollout): Begin marks a step under way,
// Stopping is checked before the next one, and Cut gives read-only work
// (plans, pre-checks, waits before anything changed) a context that the
// request does end at once.
package graceful

import (
	"context"
	"sync"
)

type key struct{}

// Stop is a run's stop request and the steps under way when it came.
type Stop struct {
	requested context.Context // done once the stop is requested; Cause says why
	request   context.CancelCauseFunc

	mu     sync.Mutex
	next   int
	inWork map[int]string
	order  []int
}

// New returns ctx carrying a fresh Stop, and the Stop.
func New(ctx context.Context) (context.Context, *Stop) {
	s := &Stop{inWork: map[int]string{}}
	s.requested, s.request = context.WithCancelCause(context.Background())
	return context.WithValue(ctx, key{}, s), s
}

func from(ctx context.Context) *Stop {
	s, _ := ctx.Value(key{}).(*Stop)
	return s
}

// Request asks the run to stop before its next step, with cause as the
// reason every stopped step gives. It returns the steps under way (those
// that will finish first), oldest first. Only the first request counts.
func (s *Stop) Request(cause error) []string {
	s.request(cause)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.order {
		if what, ok := s.inWork[id]; ok {
			out = append(out, what)
		}
	}
	return out
}

// Begin marks a step under way on ctx's run, named for the operator
// ("restart of us_1"); the returned func marks it finished. Without a Stop
// on ctx it does nothing.
func Begin(ctx context.Context, what string) (end func()) {
	s := from(ctx)
	if s == nil {
		return func() {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	s.inWork[id] = what
	s.order = append(s.order, id)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.inWork, id)
		for i, o := range s.order {
			if o == id {
				s.order = append(s.order[:i], s.order[i+1:]...)
				break
			}
		}
	}
}

// Stopping is nil until a stop of ctx's run is requested, then its cause.
func Stopping(ctx context.Context) error {
	s := from(ctx)
	if s == nil || s.requested.Err() == nil {
		return nil
	}
	return context.Cause(s.requested)
}

// Err is why no new step may start on ctx: its own cause when it is done
// (aborted), else the stop requested, else nil.
func Err(ctx context.Context) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return Stopping(ctx)
}

// Cut returns a context that also ends, with the request's cause, as soon
// as a stop is requested: for work that changes nothing and need not
// finish (plans, pre-checks, status). cancel releases it.
func Cut(ctx context.Context) (context.Context, context.CancelFunc) {
	cut, cancel := context.WithCancelCause(ctx)
	s := from(ctx)
	if s == nil {
		return cut, func() { cancel(context.Canceled) }
	}
	stop := context.AfterFunc(s.requested, func() { cancel(context.Cause(s.requested)) })
	return cut, func() {
		stop()
		cancel(context.Canceled)
	}
}
