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
// Stopping is checked before the next one, Cut gives read-only work
// (plans, pre-checks) a context that the request does end at once, and
// BeforeChange does so for a step's wait before its change (the health gate
// before a restart), after which the step must not go on.
package graceful

import (
	"context"
	"sync"
)

type key struct{}

// stepKey carries the id Begin gave the step under way on a context.
type stepKey struct{}

// Stop is a run's stop request and the steps under way when it came.
type Stop struct {
	requested context.Context // done once the stop is requested; Cause says why
	request   context.CancelCauseFunc

	mu      sync.Mutex
	next    int
	inWork  map[int]string
	waiting map[int]bool // steps in BeforeChange: they end at the request
	order   []int
}

// New returns ctx carrying a fresh Stop, and the Stop.
func New(ctx context.Context) (context.Context, *Stop) {
	s := &Stop{inWork: map[int]string{}, waiting: map[int]bool{}}
	s.requested, s.request = context.WithCancelCause(context.Background())
	return context.WithValue(ctx, key{}, s), s
}

func from(ctx context.Context) *Stop {
	s, _ := ctx.Value(key{}).(*Stop)
	return s
}

// Request asks the run to stop before its next step, with cause as the
// reason every stopped step gives. It returns the steps under way that
// will finish first (not those waiting in BeforeChange, which end now),
// oldest first. Only the first request counts.
func (s *Stop) Request(cause error) []string {
	s.request(cause)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.order {
		if what, ok := s.inWork[id]; ok && !s.waiting[id] {
			out = append(out, what)
		}
	}
	return out
}

// Begin marks a step under way on ctx's run, named for the operator
// ("restart of us_1"); it returns the step's context (ctx, knowing the
// step: BeforeChange takes it) and a func that marks the step finished.
// Without a Stop on ctx it does nothing.
func Begin(ctx context.Context, what string) (context.Context, func()) {
	s := from(ctx)
	if s == nil {
		return ctx, func() {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	s.inWork[id] = what
	s.order = append(s.order, id)
	return context.WithValue(ctx, stepKey{}, id), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.inWork, id)
		delete(s.waiting, id)
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

// Stopped is the error of a step that a stop request ended while it
// waited before changing anything (the health gate before a restart): the
// change did not start.
type Stopped struct {
	Cause error // the request's cause ("interrupted (SIGINT)")
}

func (e *Stopped) Error() string { return "the run was stopped: " + e.Cause.Error() }
func (e *Stopped) Unwrap() error { return e.Cause }

// BeforeChange runs wait, the part of a step under way before it changes
// anything (the health gate before a restart), with a context that a stop
// request ends at once: waiting on is no use when the change it waits for
// will not be made. Meanwhile the step (ctx from Begin) is not among those
// Request says will finish. Once a stop was requested (or the run aborted) by the
// time wait returns, whatever it returned, BeforeChange returns *Stopped:
// the step must not start its change.
func BeforeChange(ctx context.Context, wait func(context.Context) error) error {
	cut, cancel := Cut(ctx)
	defer cancel()
	if s := from(ctx); s != nil {
		if id, ok := ctx.Value(stepKey{}).(int); ok {
			s.mu.Lock()
			s.waiting[id] = true
			s.mu.Unlock()
			defer func() {
				s.mu.Lock()
				delete(s.waiting, id)
				s.mu.Unlock()
			}()
		}
	}
	err := wait(cut)
	if stop := Err(ctx); stop != nil {
		return &Stopped{Cause: stop}
	}
	return err
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
