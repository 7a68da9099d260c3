package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/dcctl/dcctl/lock"
)

// exitInterrupted is the shell's convention for a run ended by SIGINT.
const exitInterrupted = 130

// interruptedError is the cause of a run's context cancelled by the operator.
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

// interruptible returns a context that the first SIGINT or SIGTERM cancels,
// with an *interruptedError as its cause: the command then stops before its
// next step, releases the deployment lock, closes its journal and exits 130.
// A second signal exits at once (the lock then expires by itself). stop
// ends the signal handling.
func interruptible(parent context.Context, stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		var sig os.Signal
		select {
		case sig = <-sigs:
		case <-done:
			return
		}
		fmt.Fprintf(stderr, "\ndcctl: %s: stopping cleanly (a run stops before its next step and releases its lock; Ctrl-C again exits at once)\n", signalName(sig))
		cancel(&interruptedError{sig})
		select {
		case sig = <-sigs:
			fmt.Fprintf(stderr, "dcctl: %s again: exiting now; the deployment lock expires %s after its last heartbeat (or --break-lock)\n", signalName(sig), lock.DefaultExpiry)
			os.Exit(exitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(context.Canceled)
	}
}

// stoppedError is a command's error when its context was cancelled: it says
// why first (the operator's signal, or the deployment lock lost), and
// unwraps to both, so that the exit code follows the cause.
type stoppedError struct {
	cause, err error
}

func (e *stoppedError) Error() string {
	return fmt.Sprintf("stopped: %v: %v", e.cause, e.err)
}

func (e *stoppedError) Unwrap() []error { return []error{e.cause, e.err} }

// whyStopped makes err say why the run stopped when ctx was cancelled.
func whyStopped(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	cause := context.Cause(ctx)
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
