package runbooks

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/graceful"
	"github.com/dcctl/dcctl/inventory"
)

// twoSteps is a runbook whose first step stands for the moment the run is
// stopped (the operator's Ctrl-C, or the lock lost) while it works.
type twoSteps struct {
	during func()
	ran    []string
}

func (r *twoSteps) Name() string           { return "two-steps" }
func (r *twoSteps) Target() string         { return "nothing" }
func (r *twoSteps) Describe() Description  { return Description{Name: r.Name()} }
func (r *twoSteps) Settle(*Env) error      { return nil }
func (r *twoSteps) PreChecks(*Env) []Check { return nil }
func (r *twoSteps) PostChecks(*Env) []Check {
	return []Check{{Name: "post", Run: func(context.Context) error { r.ran = append(r.ran, "post"); return nil }}}
}
func (r *twoSteps) Steps(*Env) []Step {
	return []Step{
		{Name: "first", Run: func(context.Context, func(string)) error { r.ran = append(r.ran, "first"); r.during(); return nil }},
		{Name: "second", Run: func(context.Context, func(string)) error { r.ran = append(r.ran, "second"); return nil }},
	}
}

// TestStoppedRunSkipsTheNextStepAndJournalsWhy: once the run's context is
// cancelled, no further step or post-check runs, the error says why (the
// cause), and the journal's last entry is "interrupted" with that cause.
func TestStoppedRunSkipsTheNextStepAndJournalsWhy(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	cause := errors.New("lock lost on bb_1: this run's lock was removed (--break-lock?)")
	rb := &twoSteps{during: func() { cancel(cause) }}
	var out strings.Builder
	e := &Env{Inv: &inventory.Inventory{Dir: t.TempDir()}, Out: &out}
	err := Run(ctx, e, rb)
	var failed *FailedError
	if !errors.As(err, &failed) || !errors.Is(err, cause) {
		t.Fatalf("Run: %v, want a *FailedError wrapping the cause", err)
	}
	if strings.Join(rb.ran, ",") != "first" {
		t.Fatalf("ran %v after the stop, want only the first step", rb.ran)
	}
	if !strings.Contains(out.String(), "stopped before step 2/2 second: lock lost on bb_1") {
		t.Errorf("log does not say why it stopped:\n%s", out.String())
	}
	entries, err := ReadJournal(e.Journal.Path())
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if last.Phase != "run" || last.Result != "interrupted" || !strings.Contains(last.Error, "lock lost on bb_1") {
		t.Fatalf("last journal entry %+v, want run interrupted with the cause", last)
	}
}

// withNext is twoSteps with an afterword.
type withNext struct{ twoSteps }

func (r *withNext) Next(*Env) []string { return []string{"edit the inventory", "then: provision"} }

// TestAfterwordFollowsDone: a runbook's next steps are printed after a run
// that is done, never after a dry run.
func TestAfterwordFollowsDone(t *testing.T) {
	for _, dry := range []bool{false, true} {
		var out strings.Builder
		e := &Env{Inv: &inventory.Inventory{Dir: t.TempDir()}, Out: &out, DryRun: dry}
		if err := Run(t.Context(), e, &withNext{twoSteps{during: func() {}}}); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		want := "next: edit the inventory\nnext: then: provision\n"
		if dry == strings.HasSuffix(got, want) {
			t.Errorf("dry run %v: output ends %q", dry, got[max(0, len(got)-80):])
		}
	}
}

// TestReplacePeerSaysWhatTheInventoryNeeds: after a replacement the
// inventory still says the old node runs and the new one stands by.
func TestReplacePeerSaysWhatTheInventoryNeeds(t *testing.T) {
	e := &Env{Inv: &inventory.Inventory{File: "/srv/corp.toml"}}
	got := strings.Join((&ReplacePeer{Node: "spine-ash-1", Replacement: "spine-ash-3", Permanent: true}).Next(e), "\n")
	for _, want := range []string{"dcctl runbook replace-peer spine-ash-1 --permanent /srv/corp.toml", "set standby = false on spine-ash-3", "remove [nodes.spine-ash-1]", "then: dcctl provision /srv/corp.toml"} {
		if !strings.Contains(got, want) {
			t.Errorf("next steps lack %q:\n%s", want, got)
		}
	}
	got = strings.Join((&ReplacePeer{Node: "spine-ash-1"}).Next(e), "\n")
	if !strings.Contains(got, "dcctl runbook restore-node spine-ash-1 /srv/corp.toml") || strings.Contains(got, "remove") {
		t.Errorf("without --permanent or --replacement: %s", got)
	}
}

// oneStep runs a single step, as a runbook of its own.
type oneStep struct {
	twoSteps
	step Step
}

func (r *oneStep) Steps(*Env) []Step { return []Step{r.step} }

// TestSkipSaysWhatHappened: restore-node's re-provision of a host whose
// files never drifted is skipped as not needed, not as "already done" (it
// was never done); the dry run and the journal say the same.
func TestSkipSaysWhatHappened(t *testing.T) {
	e := inventoryEnv(t)
	e.Inv.Dir = t.TempDir()
	reprovision := (&RestoreNode{Node: "us_2"}).Steps(e)[0] // no drift found
	for _, dry := range []bool{false, true} {
		var out strings.Builder
		e.Out, e.DryRun = &out, dry
		if err := Run(t.Context(), e, &oneStep{step: reprovision}); err != nil {
			t.Fatal(err)
		}
		want := "reprovision(us_2): not needed (the host's files match the inventory), skipped"
		if dry {
			want = "reprovision(us_2): not needed (the host's files match the inventory), would skip"
		}
		if !strings.Contains(out.String(), want) || strings.Contains(out.String(), "already done") {
			t.Errorf("dry run %v: log does not say %q:\n%s", dry, want, out.String())
		}
		entries, err := ReadJournal(e.Journal.Path())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(entries, func(en Entry) bool {
			return en.Name == "reprovision(us_2)" && strings.HasPrefix(en.Detail, "not needed")
		}) {
			t.Errorf("dry run %v: journal does not say the step was not needed: %+v", dry, entries)
		}
	}
}

// TestHeaderNamesTheSubjectOnce: a run's header (and its confirmation and
// journal) is the runbook's name then its target; the target does not
// repeat a word the name already says ("restore-stream stream orders").
func TestHeaderNamesTheSubjectOnce(t *testing.T) {
	rs := &RestoreStream{From: "/backups/orders", manifest: &Manifest{Stream: "orders", Domain: "core", Replicas: 3}}
	for _, rb := range []Runbook{rs, &ExpandStream{Stream: "orders", Domain: "core"}, &Backup{Stream: "orders", Domain: "core", Dir: "/b"}} {
		header := rb.Name() + " " + rb.Target()
		words := strings.Fields(strings.ReplaceAll(header, "-", " "))
		for i := 1; i < len(words); i++ {
			if words[i] == words[i-1] {
				t.Errorf("header %q says %q twice", header, words[i])
			}
		}
	}
	if got, want := rs.Name()+" "+rs.Target(), "restore-stream orders from /backups/orders to domain core as R3"; got != want {
		t.Errorf("header %q, want %q", got, want)
	}
}

// stopDuring is a runbook whose first step (or, with inCheck, its
// pre-check) is under way when the operator asks the run to stop.
type stopDuring struct {
	twoSteps
	stop    *graceful.Stop
	inCheck bool
	alive   bool // the first step's context was still alive at its end
}

func (r *stopDuring) PreChecks(*Env) []Check {
	if !r.inCheck {
		return nil
	}
	return []Check{{Name: "waits", Run: func(ctx context.Context) error {
		r.stop.Request(errors.New("interrupted (SIGINT)"))
		select {
		case <-ctx.Done(): // a check changes nothing: the stop ends it
			return context.Cause(ctx)
		case <-time.After(time.Minute): // a bound for a broken test only
			return errors.New("the pre-check was not ended by the stop")
		}
	}}}
}

func (r *stopDuring) Steps(*Env) []Step {
	return []Step{
		{Name: "restart(a1)", Run: func(ctx context.Context, _ func(string)) error {
			r.ran = append(r.ran, "restart(a1)")
			r.stop.Request(errors.New("interrupted (SIGINT)"))
			r.alive = ctx.Err() == nil
			return nil
		}},
		{Name: "restart(a2)", Run: func(context.Context, func(string)) error { r.ran = append(r.ran, "restart(a2)"); return nil }},
	}
}

// TestStopRequestLetsTheStepFinish: a stop asked for (the first Ctrl-C)
// while a step runs leaves that step's context alive to its end, runs no
// further step nor post-check, and journals the step ok and the run
// interrupted; asked for during a pre-check, it ends the check at once.
func TestStopRequestLetsTheStepFinish(t *testing.T) {
	ctx, st := graceful.New(context.Background())
	rb := &stopDuring{stop: st}
	var out strings.Builder
	e := &Env{Inv: &inventory.Inventory{Dir: t.TempDir()}, Out: &out}
	err := Run(ctx, e, rb)
	if !rb.alive {
		t.Error("the step under way saw its context cancelled: it would be cut short")
	}
	if strings.Join(rb.ran, ",") != "restart(a1)" {
		t.Errorf("ran %v, want only the step under way", rb.ran)
	}
	if err == nil || !strings.Contains(out.String(), "stopped before step 2/2 restart(a2): interrupted (SIGINT)") {
		t.Errorf("Run: %v\n%s", err, out.String())
	}
	entries, jerr := ReadJournal(e.Journal.Path())
	if jerr != nil {
		t.Fatal(jerr)
	}
	if !slices.ContainsFunc(entries, func(en Entry) bool { return en.Name == "restart(a1)" && en.Result == "ok" }) {
		t.Errorf("the step under way is not journaled ok: %+v", entries)
	}
	if last := entries[len(entries)-1]; last.Result != "interrupted" || !strings.Contains(last.Error, "SIGINT") {
		t.Errorf("last entry %+v, want the run interrupted", last)
	}

	ctx, st = graceful.New(context.Background())
	rb = &stopDuring{stop: st, inCheck: true}
	err = Run(ctx, &Env{Inv: &inventory.Inventory{Dir: t.TempDir()}, Out: &out}, rb)
	if err == nil || !strings.Contains(err.Error(), "interrupted (SIGINT)") || len(rb.ran) != 0 {
		t.Errorf("stop during a pre-check: %v, ran %v", err, rb.ran)
	}
}
