package graceful

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// TestStopLetsStepsFinish: a requested stop names the steps under way,
// leaves the run's context alive (they finish), is seen by Stopping and
// Err, and ends the contexts Cut gave read-only work, with its cause.
func TestStopLetsStepsFinish(t *testing.T) {
	ctx, st := New(context.Background())
	if Stopping(ctx) != nil || Err(ctx) != nil {
		t.Fatal("a fresh run is stopping")
	}
	read, cancel := Cut(ctx)
	defer cancel()
	_, endA := Begin(ctx, "restart of a1")
	_, endB := Begin(ctx, "restart of b1")
	endA()
	_, endC := Begin(ctx, "restart of c1")
	cause := errors.New("interrupted (SIGINT)")
	if got := st.Request(cause); !slices.Equal(got, []string{"restart of b1", "restart of c1"}) {
		t.Errorf("under way at the request: %q", got)
	}
	endB()
	endC()
	if ctx.Err() != nil {
		t.Fatal("the request cancelled the run's context: the steps under way would be cut short")
	}
	if !errors.Is(Stopping(ctx), cause) || !errors.Is(Err(ctx), cause) {
		t.Errorf("Stopping %v, Err %v, want the cause", Stopping(ctx), Err(ctx))
	}
	<-read.Done() // Cut's context ends with the request
	if !errors.Is(context.Cause(read), cause) {
		t.Errorf("cut context's cause %v", context.Cause(read))
	}
	if got := st.Request(errors.New("again")); len(got) != 0 || !errors.Is(Err(ctx), cause) {
		t.Errorf("a second request: under way %q, Err %v: the first cause stays", got, Err(ctx))
	}
}

// TestAbortWinsOverStop: once the run's context is cancelled its cause is
// Err's, stop requested or not; without a Stop on the context nothing is
// ever stopping and Begin and Cut still work.
func TestAbortWinsOverStop(t *testing.T) {
	parent, abort := context.WithCancelCause(context.Background())
	ctx, st := New(parent)
	st.Request(errors.New("stop"))
	lost := errors.New("lock lost on n1")
	abort(lost)
	if !errors.Is(Err(ctx), lost) {
		t.Errorf("Err %v, want the abort's cause", Err(ctx))
	}
	plain := context.Background()
	_, end := Begin(plain, "x")
	end()
	c, cancel := Cut(plain)
	if Err(plain) != nil || c.Err() != nil {
		t.Error("a context without a Stop is stopping")
	}
	cancel()
}

// TestBeforeChangeEndsAtTheStop: a step's wait before its change (the gate
// before a restart) is ended by the stop request, and once a stop was
// requested the step is told not to go on (*Stopped, with the cause) even
// when its wait passed; without one, the wait's own outcome stands.
func TestBeforeChangeEndsAtTheStop(t *testing.T) {
	ctx, st := New(context.Background())
	cause := errors.New("interrupted (SIGINT)")
	failed := errors.New("the cluster cannot lose n1")
	if err := BeforeChange(ctx, func(context.Context) error { return nil }); err != nil {
		t.Errorf("a wait that passed, no stop: %v", err)
	}
	if err := BeforeChange(ctx, func(context.Context) error { return failed }); !errors.Is(err, failed) {
		t.Errorf("a wait that failed, no stop: %v", err)
	}
	_, endOther := Begin(ctx, "restart of n2")
	defer endOther()
	step, end := Begin(ctx, "restart of n1")
	defer end()
	err := BeforeChange(step, func(wait context.Context) error {
		if under := st.Request(cause); !slices.Equal(under, []string{"restart of n2"}) {
			t.Errorf("under way at the request: %q, want only the step not waiting at its gate", under)
		}
		<-wait.Done() // a wait that never passes on its own: only the stop ends it
		return fmt.Errorf("gate: %w", context.Cause(wait))
	})
	var stopped *Stopped
	if !errors.As(err, &stopped) || !errors.Is(err, cause) {
		t.Errorf("a wait the stop ended: %v, want *Stopped with the cause", err)
	}
	if err := BeforeChange(step, func(context.Context) error { return nil }); !errors.As(err, &stopped) {
		t.Errorf("a wait that passed once the stop was asked for: %v, want *Stopped (the change must not start)", err)
	}
	if ctx.Err() != nil {
		t.Error("the stop cancelled the run's context")
	}
}
