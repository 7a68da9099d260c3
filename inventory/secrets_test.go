package inventory_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/dcctl/dcctl/inventory"
)

func TestSecretsCreatedStableAndPrivate(t *testing.T) {
	path := writeInv(t, base)
	inv, err := inventory.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	noenv := func(string) string { return "" }
	s1 := firstInstall(t, inv)
	st, err := os.Stat(inventory.SecretsPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secrets file mode %o, want 600", st.Mode().Perm())
	}
	if len(s1.Password("app")) < 24 || s1.Password("app") == s1.Password("admin") {
		t.Errorf("weak or shared passwords")
	}
	if bcrypt.CompareHashAndPassword([]byte(s1.Hash("app")), []byte(s1.Password("app"))) != nil {
		t.Errorf("hash does not match password")
	}
	s2, err := inventory.LoadSecrets(inv, noenv)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Password("app") != s1.Password("app") || s2.Hash("app") != s1.Hash("app") {
		t.Errorf("second load changed password or hash: renders would not be stable")
	}
}

func TestSecretsEnvWins(t *testing.T) {
	inv, err := inventory.Load(writeInv(t, base))
	if err != nil {
		t.Fatal(err)
	}
	firstInstall(t, inv)
	env := map[string]string{"DCCTL_PASSWORD_APP": "from-env-1"}
	s, err := inventory.LoadSecrets(inv, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if s.Password("app") != "from-env-1" {
		t.Errorf("env did not win")
	}
	h := s.Hash("app")
	s, _ = inventory.LoadSecrets(inv, func(k string) string { return env[k] })
	if s.Hash("app") != h {
		t.Errorf("env password hash not stable across loads")
	}
	data, _ := os.ReadFile(inventory.SecretsPath(inv.File))
	if strings.Contains(string(data), "from-env-1") {
		t.Errorf("env password written to the secrets file")
	}
	if got := inventory.EnvVar("svc-orders.x"); got != "DCCTL_PASSWORD_SVC_ORDERS_X" {
		t.Errorf("EnvVar = %s", got)
	}
}

func TestSecretsLooseModeRefused(t *testing.T) {
	path := writeInv(t, base)
	inv, err := inventory.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inventory.SecretsPath(path), []byte("[users]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(inventory.SecretsPath(path), 0o644)
	_, err = inventory.LoadSecrets(inv, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("loose secrets file accepted: %v", err)
	}
}

// A password edited by hand in the secrets file gets a new hash: the stored
// "checked" binding no longer matches, so the shortcut past bcrypt is not taken.
func TestSecretsHandEditedPasswordRehashed(t *testing.T) {
	inv, err := inventory.Load(writeInv(t, base))
	if err != nil {
		t.Fatal(err)
	}
	noenv := func(string) string { return "" }
	s1 := firstInstall(t, inv)
	path := inventory.SecretsPath(inv.File)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), s1.Password("app"), "rotated-by-hand-0123456789", 1)
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := inventory.LoadSecrets(inv, noenv)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Password("app") != "rotated-by-hand-0123456789" {
		t.Fatalf("edited password not read")
	}
	if bcrypt.CompareHashAndPassword([]byte(s2.Hash("app")), []byte("rotated-by-hand-0123456789")) != nil {
		t.Errorf("hash not renewed for the edited password")
	}
	if s2.Hash("admin") != s1.Hash("admin") {
		t.Errorf("untouched user's hash changed")
	}
}

// firstInstall creates the secrets file as provision does on a deployment
// where no server runs yet.
func firstInstall(t *testing.T, inv *inventory.Inventory) *inventory.Secrets {
	t.Helper()
	s, err := inventory.PrepareSecrets(inv, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if s.FileExists() || len(s.Generated()) != 2 {
		t.Fatalf("first install: file exists %v, generated %v", s.FileExists(), s.Generated())
	}
	if _, err := os.Stat(inventory.SecretsPath(inv.File)); !os.IsNotExist(err) {
		t.Fatalf("PrepareSecrets wrote the file before Save: %v", err)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSecretsNeverInvented: with the secrets file gone, LoadSecrets (every
// command but provision) refuses, names the recovery, and writes nothing;
// PrepareSecrets generates only in memory. One environment variable per
// user is enough to go without the file.
func TestSecretsNeverInvented(t *testing.T) {
	inv, err := inventory.Load(writeInv(t, base))
	if err != nil {
		t.Fatal(err)
	}
	path := inventory.SecretsPath(inv.File)
	noenv := func(string) string { return "" }
	_, err = inventory.LoadSecrets(inv, noenv)
	var missing *inventory.MissingSecretsError
	if !errors.As(err, &missing) || !missing.FileMissing {
		t.Fatalf("missing secrets file: got %v, want a MissingSecretsError", err)
	}
	for _, want := range []string{path, "restore the file", "DCCTL_PASSWORD_APP", "DCCTL_PASSWORD_ADMIN", "rotate-passwords"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal does not say %q: %v", want, err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("refused load wrote %s: %v", path, err)
	}
	// One variable is not enough: the other user is still missing.
	_, err = inventory.LoadSecrets(inv, func(k string) string { return map[string]string{"DCCTL_PASSWORD_APP": "a-1"}[k] })
	if !errors.As(err, &missing) || len(missing.Users) != 1 || missing.Users[0] != "admin" {
		t.Fatalf("half the passwords in the environment: got %v, want admin missing", err)
	}
	env := map[string]string{"DCCTL_PASSWORD_APP": "a-1", "DCCTL_PASSWORD_ADMIN": "b-2"}
	s, err := inventory.LoadSecrets(inv, func(k string) string { return env[k] })
	if err != nil || s.Password("admin") != "b-2" {
		t.Fatalf("every password in the environment: %v", err)
	}
	// The file it wrote caches hashes only: without the environment, the
	// users it names are still refused, even by PrepareSecrets.
	if _, err := inventory.PrepareSecrets(inv, noenv); !errors.As(err, &missing) || len(missing.Users) != 2 {
		t.Fatalf("users known only from the environment: got %v, want both refused", err)
	}
}

// TestSecretsNewUserIsAnAddition: a user added to the inventory gets a new
// password from PrepareSecrets; the others keep theirs.
func TestSecretsNewUserIsAnAddition(t *testing.T) {
	p := writeInv(t, base)
	inv, err := inventory.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	s1 := firstInstall(t, inv)
	if err := os.WriteFile(p, []byte(strings.Replace(base, `users = ["app"]`, `users = ["app", "app2"]`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err = inventory.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inventory.LoadSecrets(inv, func(string) string { return "" }); err == nil {
		t.Fatalf("LoadSecrets generated a password for the new user")
	}
	s2, err := inventory.PrepareSecrets(inv, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if g := s2.Generated(); len(g) != 1 || g[0] != "app2" || !s2.FileExists() {
		t.Fatalf("generated %v (file exists %v), want only app2", g, s2.FileExists())
	}
	if s2.Password("app") != s1.Password("app") || s2.Password("app2") == "" {
		t.Fatalf("existing password changed or new one empty")
	}
}

// A generated password (192 random bits) is hashed at bcrypt's lowest cost:
// every login, leafnode links included, compares the hash on the server,
// and at cost 11 a hub's CPU goes to the logins of its leaf nodes. A
// password a person chose keeps cost 11; a rotation's new password is
// generated, and cheap too.
func TestSecretsGeneratedPasswordsHashCheaply(t *testing.T) {
	inv, err := inventory.Load(writeInv(t, base))
	if err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == inventory.EnvVar("admin") {
			return "a password someone chose"
		}
		return ""
	}
	s, err := inventory.PrepareSecrets(inv, env)
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(s.Hash("app"))); err != nil || cost != bcrypt.MinCost {
		t.Errorf("generated password of app: bcrypt cost %d (%v), want %d", cost, err, bcrypt.MinCost)
	}
	if bcrypt.CompareHashAndPassword([]byte(s.Hash("app")), []byte(s.Password("app"))) != nil {
		t.Errorf("the hash of app's generated password does not match it")
	}
	if cost, err := bcrypt.Cost([]byte(s.Hash("admin"))); err != nil || cost != 11 {
		t.Errorf("password of admin from the environment: bcrypt cost %d (%v), want 11", cost, err)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginRotation([]string{"app"}); err != nil {
		t.Fatal(err)
	}
	_, next, _ := s.Companion("app")
	if cost, err := bcrypt.Cost([]byte(next)); err != nil || cost != bcrypt.MinCost {
		t.Errorf("rotation's new password of app: bcrypt cost %d (%v), want %d", cost, err, bcrypt.MinCost)
	}
}

// TestSecretsSharedEnvVarRefused: users whose names differ only in case
// ("app" and "App") read the same DCCTL_PASSWORD_APP. Set, it is refused
// (taken for both, the one meant for one user would change the other's
// password and lock its clients out), and validate warns of the pair.
func TestSecretsSharedEnvVarRefused(t *testing.T) {
	inv, err := inventory.Load(writeInv(t, strings.Replace(base, `users = ["app"]`, `users = ["app", "App"]`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	first, err := inventory.PrepareSecrets(inv, func(string) string { return "" })
	if err != nil || len(first.Generated()) != 3 {
		t.Fatalf("first install: %v, generated %v", err, first.Generated())
	}
	if err := first.Save(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DCCTL_PASSWORD_APP": "meant-for-App"}
	_, err = inventory.LoadSecrets(inv, func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "DCCTL_PASSWORD_APP is set") || !strings.Contains(err.Error(), "App, app") || strings.Contains(err.Error(), "meant-for-App") {
		t.Fatalf("a variable two users share: %v, want a refusal naming both and not the password", err)
	}
	s, err := inventory.LoadSecrets(inv, func(string) string { return "" })
	if err != nil || s.Password("app") == s.Password("App") {
		t.Fatalf("from the file: %v (passwords must be each user's own)", err)
	}
	var warned bool
	for _, w := range inv.Warnings() {
		warned = warned || strings.Contains(w.Msg, "users App, app share the password variable DCCTL_PASSWORD_APP")
	}
	if !warned {
		t.Errorf("no warning of the shared variable: %v", inv.Warnings())
	}
}
