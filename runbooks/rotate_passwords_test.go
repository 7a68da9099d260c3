package runbooks

import (
	"context"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
)

// TestRotatePasswordsStepsDone: which steps a run skips, by the stage in the
// secrets file. The runner asks every step before the first one runs, so
// "no rotation" must mean "to do" for the first run and "done" for --finish.
func TestRotatePasswordsStepsDone(t *testing.T) {
	spec := testcluster.Seed()
	inv, err := inventory.Load(testcluster.WriteInventory(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := inventory.PrepareSecrets(inv, func(string) string { return "" })
	if err == nil {
		err = sec.Save()
	}
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Inv: inv, Session: provision.NewSession(inv, sec, provision.SessionOptions{})}
	done := func(finish bool) []bool {
		t.Helper()
		r := &RotatePasswords{Users: []string{spec.AppUser}, Finish: finish}
		var out []bool
		for _, s := range r.Steps(e) {
			d, err := s.Done(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d)
		}
		return out
	}
	check := func(what string, got []bool, want ...bool) {
		t.Helper()
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: steps done %v, want %v", what, got, want)
				return
			}
		}
	}
	check("first run, no rotation", done(false), false, false, false)
	check("--finish, no rotation (over)", done(true), true, true, true)
	if err := sec.BeginRotation([]string{spec.AppUser}); err != nil {
		t.Fatal(err)
	}
	check("first run, new password saved", done(false), true, false, false)
	sec.SetRotation([]string{spec.AppUser}, inventory.StageLeavesOnNext)
	check("first run at leaves-on-next (run again)", done(false), true, true, false)
	check("--finish at leaves-on-next", done(true), false, false, false)
	sec.SetRotation([]string{spec.AppUser}, inventory.StageLeavesBack)
	check("--finish at leaves-back", done(true), true, false, false)
}
