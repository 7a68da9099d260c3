package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dcctl/dcctl/graceful"
)

// TestInterruptsStopThenAbortThenExit feeds the signal handler signals at
// set times: the first asks the run to stop and names the step under way;
// the same signal again within a second (`timeout -s INT` signals dcctl,
// then its process group) changes nothing; a second one later aborts (the
// run's context cancelled, its cause the signal); a third exits 130.
func TestInterruptsStopThenAbortThenExit(t *testing.T) {
	parent, abort := context.WithCancelCause(context.Background())
	ctx, st := graceful.New(parent)
	_, end := graceful.Begin(ctx, "step 1/3 restart(us_2)")
	defer end()
	var stderr strings.Builder
	now := time.Unix(1000, 0)
	exited := -1
	h := &interrupts{stop: st, abort: abort, stderr: &stderr, now: func() time.Time { return now }, exit: func(code int) { exited = code }}

	h.on(os.Interrupt)
	if want := "interrupt (SIGINT): finishing step 1/3 restart(us_2) then stopping (press Ctrl-C again to abort now)"; !strings.Contains(stderr.String(), want) {
		t.Errorf("first signal says %q, want %q", stderr.String(), want)
	}
	var intr *interruptedError
	if !errors.As(graceful.Stopping(ctx), &intr) || ctx.Err() != nil {
		t.Fatalf("after the first signal: stopping %v, run cancelled %v; want a stop and the step left to finish", graceful.Stopping(ctx), ctx.Err())
	}

	said := stderr.String()
	now = now.Add(300 * time.Millisecond)
	h.on(os.Interrupt) // timeout's second delivery
	if ctx.Err() != nil || stderr.String() != said {
		t.Fatalf("a signal 0.3 s after the first aborted the run or spoke: %q", stderr.String())
	}

	now = now.Add(2 * time.Second)
	h.on(syscall.SIGTERM)
	if !errors.As(context.Cause(ctx), &intr) || !strings.Contains(stderr.String(), "aborting now") {
		t.Fatalf("second signal: cause %v, stderr %q; want the run aborted", context.Cause(ctx), stderr.String())
	}
	if exited != -1 {
		t.Fatal("the second signal exited: the lock would not be released")
	}

	now = now.Add(2 * time.Second)
	h.on(os.Interrupt)
	if exited != exitInterrupted {
		t.Errorf("third signal: exit %d, want %d", exited, exitInterrupted)
	}
}

// TestInterruptNoticeStaysOneLine: with no step under way the first
// signal says it stops, and names nothing; with many (an install on every
// host at once) it names a few and counts the rest.
func TestInterruptNoticeStaysOneLine(t *testing.T) {
	_, st := graceful.New(context.Background())
	var stderr strings.Builder
	h := &interrupts{stop: st, abort: func(error) {}, stderr: &stderr, now: time.Now, exit: func(int) {}}
	h.on(os.Interrupt)
	if got := strings.TrimSpace(stderr.String()); got != "dcctl: interrupt (SIGINT): stopping (press Ctrl-C again to abort now)" {
		t.Errorf("nothing under way: %q", got)
	}

	ctx, st := graceful.New(context.Background())
	for i := 1; i <= 1000; i++ {
		_, end := graceful.Begin(ctx, fmt.Sprintf("install of h%d", i))
		defer end()
	}
	stderr.Reset()
	h = &interrupts{stop: st, abort: func(error) {}, stderr: &stderr, now: time.Now, exit: func(int) {}}
	h.on(os.Interrupt)
	want := "dcctl: interrupt (SIGINT): finishing install of h1, install of h2, install of h3, install of h4 and 996 more then stopping (press Ctrl-C again to abort now)"
	if got := strings.TrimSpace(stderr.String()); got != want {
		t.Errorf("1000 under way: %q, want %q", got, want)
	}
}
