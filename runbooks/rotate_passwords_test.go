package runbooks

import (
	"context"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
)

// TestRotatePasswordsStepsDone: which steps a run skips, by the stage in the
// secrets file. The runner asks every step before the first one runs, so
// "no rotation" must mean "to do" for the first run and "done" for --finish.
func TestRotatePasswordsStepsDone(t *testing.T) {
	spec, sec, e := rotationEnv(t)
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

// TestRotatePasswordsFinishAfterAFailedFirstRun: --finish refuses while the
// first run has not got past serversAcceptBoth (an audit's first run failed
// there and --finish went on, switching servers while the leaf remotes
// still logged in with the old password); from leaves-on-next on it goes.
func TestRotatePasswordsFinishAfterAFailedFirstRun(t *testing.T) {
	spec, sec, e := rotationEnv(t)
	if err := sec.BeginRotation([]string{spec.AppUser}); err != nil {
		t.Fatal(err)
	}
	sec.SetRotation([]string{spec.AppUser}, inventory.StageAcceptBoth)
	err := (&RotatePasswords{Users: []string{spec.AppUser}, Finish: true}).pickUsers(e)
	if err == nil || !strings.Contains(err.Error(), "did not finish (stage accept-both") || !strings.Contains(err.Error(), "run rotate-passwords again, without --finish") {
		t.Fatalf("--finish at accept-both: %v", err)
	}
	if err := (&RotatePasswords{Users: []string{spec.AppUser}}).pickUsers(e); err != nil {
		t.Fatalf("the first run again at accept-both: %v", err)
	}
	sec.SetRotation([]string{spec.AppUser}, inventory.StageLeavesOnNext)
	if err := (&RotatePasswords{Users: []string{spec.AppUser}, Finish: true}).pickUsers(e); err != nil {
		t.Fatalf("--finish at leaves-on-next: %v", err)
	}
}

// rotationEnv is the seed deployment's inventory with its secrets saved and
// an Env on them, no server running: what the rotation's stage logic reads.
func rotationEnv(t *testing.T) (testcluster.Spec, *inventory.Secrets, *Env) {
	t.Helper()
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
	return spec, sec, &Env{Inv: inv, Session: provision.NewSession(inv, sec, provision.SessionOptions{})}
}
