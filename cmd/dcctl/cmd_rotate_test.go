package main

import (
	"strings"
	"testing"
)

// TestRotatePasswordsRefusals: rotate-passwords refuses (exit 2, before any
// connection) what it cannot rotate, and says why.
func TestRotatePasswordsRefusals(t *testing.T) {
	t.Setenv("DCCTL_PASSWORD_ACC1", "")
	t.Setenv("DCCTL_PASSWORD_ADMIN", "")
	p := copyExample(t)
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--finish"}, "", "no password rotation is under way"},
		{[]string{"--user", "nosuch"}, "", "user nosuch is not in the inventory"},
		{[]string{"--user", "acc1"}, "some-env-password", "comes from DCCTL_PASSWORD_ACC1"},
		{[]string{"--replace-lost"}, "", "no password is lost"},
		{[]string{"--replace-lost", "--user", "acc1"}, "", "leave out --user"},
	} {
		t.Setenv("DCCTL_PASSWORD_ACC1", tc.env)
		args := append([]string{"runbook", "rotate-passwords", "--dry-run", "-i", p}, tc.args...)
		out, errOut, code := runCLI(t, args...)
		if code != 2 || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%v: exit %d, want 2 saying %q\n%s%s", tc.args, code, tc.want, out, errOut)
		}
	}
}
