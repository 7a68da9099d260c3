package provision

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

// TestNewPasswordsOnlyForAFreshDeployment plans a host (this machine,
// through the in-process sshd) with passwords PrepareSecrets generated
// because the secrets file is missing: allowed while the host has no config
// from dcctl, refused once it has one, and refused for a host that cannot be
// asked. A user added to an existing file is allowed unless the host's
// config already names it. Nothing writes the secrets file.
func TestNewPasswordsOnlyForAFreshDeployment(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the host's paths live under /var/lib (run as root, as scripts/test.sh does)")
	}
	root := hostRoot(t)
	s, node, _ := dirsFixture(t, root, false)
	noenv := func(string) string { return "" }
	secretsFile := inventory.SecretsPath(s.Inv.File)
	os.Remove(secretsFile) // dirsFixture's came from the environment
	sec, err := inventory.PrepareSecrets(s.Inv, noenv)
	if err != nil {
		t.Fatal(err)
	}
	withTLS(t, s.Inv, sec)
	if sec.FileExists() || len(sec.Generated()) != 2 {
		t.Fatalf("fixture: file exists %v, generated %v", sec.FileExists(), sec.Generated())
	}
	s.Secrets = sec

	if err := CheckNewPasswords(s.Inv, sec, []*HostPlan{planOne(t, s, node)}); err != nil {
		t.Fatalf("fresh host: %v", err)
	}
	// Unreachable is no sign of a lost secrets file: the refusal says to
	// reach the host first (a first provision with a wrong key).
	if err := CheckNewPasswords(s.Inv, sec, []*HostPlan{{Node: node, Unreachable: errors.New("dial: no route")}}); err == nil || !strings.Contains(err.Error(), "could not be checked") ||
		!strings.Contains(err.Error(), "Make every host reachable") || strings.Contains(err.Error(), "servers already run") {
		t.Errorf("unreachable host: %v, want a refusal saying to reach it", err)
	}

	// The host gets a config from an earlier dcctl run.
	conf := templates.PathsFor(s.Inv).Config
	if err := os.MkdirAll(filepath.Dir(conf), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("# Managed by dcctl\naccounts { APP: { users: [ { user: \"app\", password: \"$2a$11$x\" } ] } }\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	s.Forget(node.Name)
	err = CheckNewPasswords(s.Inv, sec, []*HostPlan{planOne(t, s, node)})
	var refused *NewPasswordsRefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "n1 already has "+conf) || !strings.Contains(err.Error(), "restore the file") {
		t.Fatalf("host with a dcctl config: %v, want a refusal naming it and the recovery", err)
	}
	if _, err := os.Stat(secretsFile); !os.IsNotExist(err) {
		t.Fatalf("the secrets file was written: %v", err)
	}

	// An existing file and a user new to the inventory: an addition, unless
	// the host's config already names the user.
	if err := os.WriteFile(secretsFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(s.Inv.File)
	text := strings.Replace(string(data), `users = ["app"]`, `users = ["app", "app2"]`, 1)
	os.WriteFile(s.Inv.File, []byte(text), 0o644)
	inv, err := inventory.Load(s.Inv.File)
	if err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		return map[string]string{inventory.EnvVar("app"): "a-1", inventory.EnvVar("ops"): "o-1"}[k]
	}
	added, err := inventory.PrepareSecrets(inv, env)
	if err != nil {
		t.Fatal(err)
	}
	withTLS(t, inv, added)
	if g := added.Generated(); len(g) != 1 || g[0] != "app2" {
		t.Fatalf("generated %v, want app2", g)
	}
	s2 := NewSession(inv, added, SessionOptions{})
	defer s2.Close()
	if err := CheckNewPasswords(inv, added, []*HostPlan{planOne(t, s2, inv.Node("n1"))}); err != nil {
		t.Errorf("a user no host knows: %v", err)
	}
	if err := CheckNewPasswords(inv, added, []*HostPlan{{Node: inv.Node("n1"), Unreachable: errors.New("dial: no route")}}); err != nil {
		t.Errorf("a user added while a host is unreachable: %v (an addition; the host gets it when it is back)", err)
	}
	os.WriteFile(conf, []byte("accounts { APP: { users: [ { user: \"app2\", password: \"$2a$11$y\" } ] } }\n"), 0o640)
	s2.Forget("n1")
	if err := CheckNewPasswords(inv, added, []*HostPlan{planOne(t, s2, inv.Node("n1"))}); err == nil || !strings.Contains(err.Error(), "already has user app2") {
		t.Errorf("a user the host's config names: %v, want a refusal", err)
	}
}
