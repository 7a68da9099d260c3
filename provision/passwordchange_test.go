package provision

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// TestPasswordEditedInTheSecretsFile: acc1's password edited in the secrets
// file is a reload of the hub's nodes ("accounts") and a restart of the leaf
// nodes (their remotes log in as acc1). The plan says that clients still on
// the old password are refused from then on, and names rotate-passwords as
// the way without that cut; never the password. On the lab the plan said
// "reload: accounts" alone and the old contexts were refused afterwards.
func TestPasswordEditedInTheSecretsFile(t *testing.T) {
	const edited = "Pz8-edited-by-hand-0123456789"
	for _, tc := range []struct{ node, action, when string }{
		{"bb_us_1", "reload", "after the reload"},
		{"us_1", "restart", "once it restarts"},
	} {
		t.Run(tc.node, func(t *testing.T) {
			inv, sec, bin := fixture(t, nil)
			dirs, files, err := desired(inv, sec, bin, tc.node)
			if err != nil {
				t.Fatal(err)
			}
			running, fetch := hostWith(files, dirs)

			file := sec.File()
			text, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			// A person's edit: the new password, the old hash left beside it.
			text = []byte(strings.Replace(string(text), `password = "yVFuPqwa1JpfZJEJCEaKR9zVx7tv7uKj"`, `password = "`+edited+`"`, 1))
			if err := os.WriteFile(file, text, 0o600); err != nil {
				t.Fatal(err)
			}
			sec2, err := inventory.LoadSecrets(inv, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			withTLS(t, inv, sec2)
			dirs2, files2, err := desired(inv, sec2, bin, tc.node)
			if err != nil {
				t.Fatal(err)
			}
			p, err := planHost(context.Background(), inv, sec2, inv.Node(tc.node), dirs2, files2, running, fetch)
			if err != nil {
				t.Fatal(err)
			}
			why := strings.Join(p.Why, "; ")
			if string(p.Action) != tc.action {
				t.Fatalf("action %q (%s), want %s", p.Action, why, tc.action)
			}
			for _, want := range []string{"new password for user acc1: clients still using the old one are refused " + tc.when,
				"put the old one back in " + file, "`dcctl runbook rotate-passwords --user acc1`"} {
				if !strings.Contains(why, want) {
					t.Errorf("plan lacks %q: %s", want, why)
				}
			}
			if strings.Contains(why, edited) || strings.Contains(why, "yVFuPqwa") {
				t.Errorf("plan shows a password: %s", why)
			}
		})
	}
}

// TestOtherAccountChangesSayNothingOfPasswords: a user added to an account
// (its password from DCCTL_PASSWORD_<USER>) is a reload too, but no one's
// password changes: no such note.
func TestOtherAccountChangesSayNothingOfPasswords(t *testing.T) {
	inv, sec, bin := fixture(t, nil)
	dirs, files, err := desired(inv, sec, bin, "bb_us_1")
	if err != nil {
		t.Fatal(err)
	}
	running, fetch := hostWith(files, dirs)
	text, err := os.ReadFile(inv.File)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inv.File, []byte(strings.Replace(string(text), `users = ["acc1"]`, `users = ["acc1", "acc1-audit"]`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	inv2, err := inventory.Load(inv.File)
	if err != nil {
		t.Fatal(err)
	}
	sec2, err := inventory.LoadSecrets(inv2, func(k string) string {
		if k == "DCCTL_PASSWORD_ACC1_AUDIT" {
			return "audit-password-from-env"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	withTLS(t, inv2, sec2)
	dirs2, files2, err := desired(inv2, sec2, bin, "bb_us_1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := planHost(context.Background(), inv2, sec2, inv2.Node("bb_us_1"), dirs2, files2, running, fetch)
	if err != nil {
		t.Fatal(err)
	}
	if p.Action != ActionReload {
		t.Fatalf("action %q: %v", p.Action, p.Why)
	}
	if why := strings.Join(p.Why, "; "); strings.Contains(why, "password") {
		t.Errorf("a new user reads as a password change: %s", why)
	}
}
