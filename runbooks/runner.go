package runbooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dcctl/dcctl/graceful"
)

// RefusedError is a failed pre-check, or a confirmation not given: nothing
// was changed (exit 2).
type RefusedError struct {
	Check string
	Err   error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused: %s: %v", e.Check, e.Err)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// FailedError is a step or a post-check that failed (exit 1). Journal names
// the file that says what was done before it.
type FailedError struct {
	What    string
	Err     error
	Journal string
}

func (e *FailedError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.What, e.Err)
	if e.Journal != "" {
		msg += " (journal: " + e.Journal + ")"
	}
	return msg
}

func (e *FailedError) Unwrap() error { return e.Err }

// Run carries out rb: pre-checks, then (unless a dry run) the steps, then
// the post-checks, writing both a log to e.Out and a journal beside the
// inventory. It returns nil when done, a *RefusedError when a pre-check or
// the confirmation refused, a *FailedError otherwise.
//
// A stop requested on ctx (graceful: the operator's first Ctrl-C) lets the
// step under way finish and runs no further step; a cancelled ctx (a
// second Ctrl-C, the deployment lock lost) stops it too, cutting short the
// step under way where it waits. The checks change nothing: either ends
// them at once. The journal's closing entry is then "interrupted" with the
// cause.
func Run(ctx context.Context, e *Env, rb Runbook) (err error) {
	redact := func(s string) string { return s }
	if e.Session != nil && e.Session.Secrets != nil {
		redact = e.Session.Secrets.Redact
	}
	if e.Out == nil {
		e.Out = io.Discard
	}
	j, jerr := OpenJournal(e.Inv.Dir, rb.Name(), redact)
	if jerr != nil {
		return &RefusedError{Check: "journal", Err: fmt.Errorf("%w: fix the directory's permissions or run from a writable copy of the inventory", jerr)}
	}
	j.Tee(e.Events)
	e.Journal = j
	log := &logger{w: e.Out, redact: redact}
	start := time.Now()
	mode := "run"
	if e.DryRun {
		mode = "dry run"
	}
	log.printf("%s %s (%s)\njournal: %s\n", rb.Name(), rb.Target(), mode, j.Path())
	j.Write(Entry{Phase: "run", Name: rb.Name() + " " + rb.Target(), Result: "started", Detail: mode})
	defer func() {
		res := "done"
		var errText string
		switch {
		case err == nil:
		case graceful.Err(ctx) != nil:
			res, errText = "interrupted", graceful.Err(ctx).Error()
		case errors.As(err, new(*RefusedError)):
			res, errText = "refused", err.Error()
		default:
			res, errText = "failed", err.Error()
		}
		j.Write(Entry{Phase: "run", Name: rb.Name() + " " + rb.Target(), Result: res, Error: errText, Duration: since(start)})
		if cerr := j.Close(); cerr != nil && err == nil {
			err = &FailedError{What: "write journal", Err: cerr}
		}
	}()

	// The checks and the look at what is done change nothing: a stop
	// request ends them at once.
	readCtx, cancelRead := graceful.Cut(ctx)
	defer cancelRead()
	log.printf("pre-checks:\n")
	// The target first: the checks are built for what it settled on.
	target := Check{Name: "target", Run: func(context.Context) error { return rb.Settle(e) }}
	if err := runCheck(readCtx, log, j, "pre-check", target); err != nil {
		return &RefusedError{Check: target.Name, Err: err}
	}
	for _, c := range rb.PreChecks(e) {
		if err := runCheck(readCtx, log, j, "pre-check", c); err != nil {
			if graceful.Err(ctx) != nil {
				return &FailedError{What: "pre-check " + c.Name, Err: err, Journal: j.Path()}
			}
			return &RefusedError{Check: c.Name, Err: err}
		}
	}

	steps := rb.Steps(e)
	log.printf("steps:\n")
	if len(steps) == 0 {
		log.printf("  (nothing to do)\n")
	}
	done := make([]bool, len(steps))
	var todoDestructive []string
	for i, s := range steps {
		if s.Done == nil {
			continue
		}
		d, err := s.Done(readCtx)
		if err != nil {
			return &FailedError{What: "find out whether step " + s.Name + " is done", Err: err, Journal: j.Path()}
		}
		done[i] = d
	}
	for i, s := range steps {
		if s.Destructive && !done[i] {
			todoDestructive = append(todoDestructive, s.Name)
		}
	}
	if e.DryRun {
		for i, s := range steps {
			state := "would run"
			if done[i] {
				state = skipReason(s) + ", would skip"
			}
			log.printf("  %d. %s%s: %s\n", i+1, s.Name, destructiveMark(s), state)
			j.Write(Entry{Phase: "step", Name: s.Name, Result: "planned", Detail: state})
		}
		log.printf("dry run: nothing changed\n")
		return nil
	}
	if len(todoDestructive) > 0 && e.Confirm != nil {
		q := fmt.Sprintf("%s %s will: %s. Go on?", rb.Name(), rb.Target(), strings.Join(todoDestructive, "; "))
		if err := e.Confirm(q); err != nil {
			return &RefusedError{Check: "confirmation", Err: err}
		}
	}
	for i, s := range steps {
		if stop := graceful.Err(ctx); stop != nil {
			log.printf("stopped before step %d/%d %s: %v\n", i+1, len(steps), s.Name, stop)
			return &FailedError{What: "stopped before step " + s.Name, Err: fmt.Errorf("%w; the steps before it are done: run the same command again to go on", stop), Journal: j.Path()}
		}
		t0 := time.Now()
		prefix := fmt.Sprintf("  %d/%d %s%s", i+1, len(steps), s.Name, destructiveMark(s))
		if done[i] {
			log.printf("%s: %s, skipped\n", prefix, skipReason(s))
			j.Write(Entry{Phase: "step", Name: s.Name, Result: "skipped", Detail: skipReason(s)})
			continue
		}
		log.printf("%s ...\n", prefix)
		stepCtx, end := graceful.Begin(ctx, fmt.Sprintf("step %d/%d %s", i+1, len(steps), s.Name))
		err := s.Run(stepCtx, log.progress(j, s.Name))
		end()
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("stopped: %w (%v)", context.Cause(ctx), err)
		}
		if stopped := (*graceful.Stopped)(nil); errors.As(err, &stopped) {
			// ended by the stop while it waited before its change (the
			// gate before a restart): not a failure of the step
			log.printf("    stopped after %.1fs, before its change: %v\n", time.Since(t0).Seconds(), stopped.Cause)
			j.Write(Entry{Phase: "step", Name: s.Name, Result: "interrupted", Error: err.Error(), Duration: since(t0)})
			return &FailedError{What: "stopped in step " + s.Name + " before its change", Err: fmt.Errorf("%w; the steps before it are done: run the same command again to go on", stopped.Cause), Journal: j.Path()}
		}
		if err != nil {
			log.printf("    FAILED after %.1fs: %v\n", time.Since(t0).Seconds(), err)
			j.Write(Entry{Phase: "step", Name: s.Name, Result: "failed", Error: err.Error(), Duration: since(t0)})
			return &FailedError{What: "step " + s.Name, Err: fmt.Errorf("%w; the steps before it are done: run the same command again to go on once the cause is fixed", err), Journal: j.Path()}
		}
		log.printf("    done in %.1fs\n", time.Since(t0).Seconds())
		j.Write(Entry{Phase: "step", Name: s.Name, Result: "ok", Duration: since(t0)})
	}

	if stop := graceful.Err(ctx); stop != nil {
		log.printf("stopped before the post-checks: %v\n", stop)
		return &FailedError{What: "stopped before the post-checks", Err: stop, Journal: j.Path()}
	}
	log.printf("post-checks:\n")
	var failed []string
	for _, c := range rb.PostChecks(e) {
		if err := runCheck(readCtx, log, j, "post-check", c); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", c.Name, err))
		}
	}
	if len(failed) > 0 {
		return &FailedError{What: "post-checks", Err: errors.New(strings.Join(failed, "; ")), Journal: j.Path()}
	}
	log.printf("done: %s %s in %.1fs\n", rb.Name(), rb.Target(), time.Since(start).Seconds())
	if a, ok := rb.(Afterword); ok && !e.DryRun {
		for _, n := range a.Next(e) {
			log.printf("next: %s\n", n)
		}
	}
	return nil
}

func runCheck(ctx context.Context, log *logger, j *Journal, phase string, c Check) error {
	t0 := time.Now()
	err := c.Run(ctx)
	if err != nil {
		word := "REFUSED"
		if phase == "post-check" {
			word = "FAILED"
		}
		log.printf("  %-7s %s: %v\n", word, c.Name, err)
		res := "refused"
		if phase == "post-check" {
			res = "failed"
		}
		j.Write(Entry{Phase: phase, Name: c.Name, Result: res, Error: err.Error(), Duration: since(t0)})
		return err
	}
	log.printf("  %-7s %s (%.1fs)\n", "ok", c.Name, time.Since(t0).Seconds())
	j.Write(Entry{Phase: phase, Name: c.Name, Result: "ok", Duration: since(t0)})
	return nil
}

// skipReason says why a step whose Done held is skipped.
func skipReason(s Step) string {
	if s.NotNeeded != "" {
		return s.NotNeeded
	}
	return "already done"
}

func destructiveMark(s Step) string {
	if s.Destructive {
		return " [destructive]"
	}
	return ""
}

func since(t time.Time) float64 { return time.Since(t).Round(time.Millisecond).Seconds() }

// logger writes the run's human log, redacted.
type logger struct {
	w      io.Writer
	redact func(string) string
}

func (l *logger) printf(format string, args ...any) {
	fmt.Fprint(l.w, l.redact(fmt.Sprintf(format, args...)))
}

// progress returns the callback a step reports its waits to: a line goes to
// the log when it differs from the previous one (a replica's lag shrinking),
// and to the journal at most every few seconds so it stays readable.
func (l *logger) progress(j *Journal, step string) func(string) {
	var last string
	var lastJournal time.Time
	return func(msg string) {
		if msg == last {
			return
		}
		last = msg
		l.printf("    %s\n", msg)
		if time.Since(lastJournal) > 5*time.Second {
			lastJournal = time.Now()
			j.Write(Entry{Phase: "step", Name: step, Result: "progress", Detail: msg})
		}
	}
}
