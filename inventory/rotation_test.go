package inventory_test

import (
	"os"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// TestRotationStagesPersist: a rotation's new password and stage survive a
// reload of the secrets file, each stage gives the user's own name and the
// leaf login the password it should, the file before the rotation is kept
// until it is finished, and an environment password is not rotated here.
func TestRotationStagesPersist(t *testing.T) {
	inv, err := inventory.Load(writeInv(t, base))
	if err != nil {
		t.Fatal(err)
	}
	s := firstInstall(t, inv)
	old := s.Password("app")
	before, _ := os.ReadFile(inventory.SecretsPath(inv.File))
	if err := s.KeepPrevious(); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginRotation([]string{"app"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	noenv := func(string) string { return "" }
	reload := func() *inventory.Secrets {
		t.Helper()
		r, err := inventory.LoadSecrets(inv, noenv)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := reload()
	if r.Rotation("app") != inventory.StageAcceptBoth || r.Rotation("admin") != "" {
		t.Fatalf("stages after reload: app %q admin %q", r.Rotation("app"), r.Rotation("admin"))
	}
	name, _, ok := r.Companion("app")
	if !ok || name != "app-next" {
		t.Fatalf("companion %q %v", name, ok)
	}
	// The new password, as the leaf links use it once they move.
	if err := r.SetRotation([]string{"app"}, inventory.StageLeavesOnNext); err != nil {
		t.Fatal(err)
	}
	_, next := r.LeafLogin("app")
	if next == old || next == "" {
		t.Fatalf("new password equals the old one or is empty")
	}
	for _, st := range []struct {
		stage    inventory.RotationStage
		own      string
		leafUser string
	}{
		{inventory.StageAcceptBoth, old, "app"},
		{inventory.StageLeavesOnNext, old, "app-next"},
		{inventory.StageSwitched, next, "app-next"},
		{inventory.StageLeavesBack, next, "app"},
	} {
		if err := r.SetRotation([]string{"app"}, st.stage); err != nil {
			t.Fatal(err)
		}
		if err := r.Save(); err != nil {
			t.Fatal(err)
		}
		r = reload()
		u, p := r.LeafLogin("app")
		if r.Password("app") != st.own || u != st.leafUser || p != map[string]string{"app": st.own, "app-next": next}[u] {
			t.Errorf("%s: own password new=%v, leaf login %s new=%v", st.stage, r.Password("app") == next, u, p == next)
		}
	}
	if err := r.DropPrevious(); err == nil {
		t.Error("previous file dropped while the rotation is under way")
	}
	r.FinishRotation([]string{"app"})
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
	if err := r.DropPrevious(); err != nil {
		t.Fatal(err)
	}
	r = reload()
	if r.Password("app") != next || r.Rotation("app") != "" {
		t.Errorf("after finishing: new password %v, stage %q", r.Password("app") == next, r.Rotation("app"))
	}
	if _, err := os.Stat(r.PreviousPath()); !os.IsNotExist(err) {
		t.Errorf("previous file still there: %v", err)
	}
	data, _ := os.ReadFile(inventory.SecretsPath(inv.File))
	if strings.Contains(string(data), "next_password") || string(data) == string(before) {
		t.Errorf("secrets file after finishing:\n%s", data)
	}
	env, err := inventory.LoadSecrets(inv, func(k string) string { return map[string]string{"DCCTL_PASSWORD_APP": "from-env"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := env.BeginRotation([]string{"app"}); err == nil || !strings.Contains(err.Error(), "DCCTL_PASSWORD_APP") {
		t.Errorf("rotation of an environment password: %v", err)
	}
}
