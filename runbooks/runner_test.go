package runbooks

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

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
	for _, want := range []string{"dcctl node stop spine-ash-1 /srv/corp.toml --yes", "set standby = false on spine-ash-3", "remove [nodes.spine-ash-1]", "then: dcctl provision /srv/corp.toml"} {
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
