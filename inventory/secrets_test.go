package inventory_test

import (
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
	s1, err := inventory.LoadSecrets(inv, noenv)
	if err != nil {
		t.Fatal(err)
	}
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
	s1, err := inventory.LoadSecrets(inv, noenv)
	if err != nil {
		t.Fatal(err)
	}
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
