package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dcctl/dcctl/graceful"
	"github.com/dcctl/dcctl/lock"
)

// exitInterrupted is the shell's convention for a run ended by SIGINT.
const exitInterrupted = 130

// interruptedError is the cause of a run stopped or aborted by the operator.
type interruptedError struct{ sig os.Signal }

func (e *interruptedError) Error() string {
	return fmt.Sprintf("interrupted (%s)", signalName(e.sig))
}

func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// echoWindow is how soon after a counted signal another one is taken for
// the same: `timeout -s INT` signals dcctl and then its whole process group,
// so one timeout arrives as two signals a moment apart, and must not abort
// what the first let finish.
const echoWindow = time.Second

// interruptible returns a context for the run whose first SIGINT or SIGTERM
// asks the run to stop (package graceful): the steps under way finish, each
// within its own timeout (a restart with the health gate after it), no new
// one starts, the deployment lock is released, and the command exits 130.
// A second signal aborts: it cancels the context, with an *interruptedError
// as its cause, which cuts short the commands under way; the lock is still
// released. A third exits at once (the lock then expires by itself). stop
// ends the signal handling.
func interruptible(parent context.Context, stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, abort := context.WithCancelCause(parent)
	ctx, st := graceful.New(ctx)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	h := &interrupts{stop: st, abort: abort, stderr: stderr, now: time.Now, exit: os.Exit}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				h.on(sig)
			case <-done:
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		abort(context.Canceled)
	}
}

// interrupts counts the operator's signals: stop, abort, exit.
type interrupts struct {
	stop   *graceful.Stop
	abort  context.CancelCauseFunc
	stderr io.Writer
	now    func() time.Time
	exit   func(code int)

	count int
	last  time.Time
}

// on takes one signal.
func (h *interrupts) on(sig os.Signal) {
	now := h.now()
	if h.count > 0 && now.Sub(h.last) < echoWindow {
		return // the same interrupt, delivered twice
	}
	h.count++
	h.last = now
	cause := &interruptedError{sig}
	switch h.count {
	case 1:
		finishing := "stopping"
		if inWork := h.stop.Request(cause); len(inWork) > 0 {
			finishing = "finishing " + listed(inWork) + " then stopping"
		}
		fmt.Fprintf(h.stderr, "\ndcctl: interrupt (%s): %s (press Ctrl-C again to abort now)\n", signalName(sig), finishing)
	case 2:
		fmt.Fprintf(h.stderr, "dcctl: interrupt (%s) again: aborting now: the commands under way are cut short; releasing the lock (Ctrl-C once more exits without releasing it)\n", signalName(sig))
		h.abort(cause)
	default:
		fmt.Fprintf(h.stderr, "dcctl: interrupt (%s) a third time: exiting now; the deployment lock expires %s after its last heartbeat (or --break-lock)\n", signalName(sig), lock.DefaultExpiry)
		h.exit(exitInterrupted)
	}
}

// maxListed is how many steps under way the interrupt's notice names: an
// install on a thousand hosts at once is a count, not a screenful.
const maxListed = 4

func listed(steps []string) string {
	if len(steps) <= maxListed {
		return strings.Join(steps, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(steps[:maxListed], ", "), len(steps)-maxListed)
}

// stoppedError is a command's error when its run was stopped: it says why
// first (the operator's signal, or the deployment lock lost), and unwraps
// to both, so that the exit code follows the cause.
type stoppedError struct {
	cause, err error
}

func (e *stoppedError) Error() string {
	return fmt.Sprintf("stopped: %v: %v", e.cause, e.err)
}

func (e *stoppedError) Unwrap() []error { return []error{e.cause, e.err} }

// whyStopped makes err say why the run stopped when it was stopped
// (graceful.Err: asked to stop, or its context cancelled).
func whyStopped(ctx context.Context, err error) error {
	cause := graceful.Err(ctx)
	if err == nil || cause == nil {
		return err
	}
	if errors.Is(err, cause) {
		return err
	}
	return &stoppedError{cause: cause, err: err}
}

// stopCode is the exit code of a run stopped by a signal (130) or by losing
// its lock (1, a failure); 0 when neither.
func stopCode(err error) int {
	var intr *interruptedError
	var lost *lock.LostError
	switch {
	case errors.As(err, &intr):
		return exitInterrupted
	case errors.As(err, &lost):
		return exitFailed
	}
	return 0
}
