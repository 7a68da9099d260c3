package inventory_test

import (
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// PasswordSource names where a password comes from, for an operator told to
// check it: the variable, or the secrets file's key (the new one once a
// rotation switched the name over); never the password.
func TestPasswordSource(t *testing.T) {
	inv, err := inventory.Load(writeInv(t, base))
	if err != nil {
		t.Fatal(err)
	}
	s := firstInstall(t, inv)
	file := inventory.SecretsPath(inv.File)
	if got, want := s.PasswordSource("app"), "password of [users.app] in "+file; got != want {
		t.Errorf("from the file: %q, want %q", got, want)
	}
	if err := s.BeginRotation([]string{"app"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRotation([]string{"app"}, inventory.StageSwitched); err != nil {
		t.Fatal(err)
	}
	if got, want := s.PasswordSource("app"), "next_password of [users.app] in "+file; got != want {
		t.Errorf("rotation switched: %q, want %q", got, want)
	}
	env, err := inventory.LoadSecrets(inv, func(k string) string {
		if k == "DCCTL_PASSWORD_APP" {
			return "from-env-1"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := env.PasswordSource("app"), "DCCTL_PASSWORD_APP in the environment"; got != want {
		t.Errorf("from the environment: %q, want %q", got, want)
	}
	if got := env.PasswordSource("admin"); got != "password of [users.admin] in "+file {
		t.Errorf("the other user, from the file: %q", got)
	}
}
