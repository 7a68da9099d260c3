package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
)

// TestMissingSecretsRefused: without the secrets file, every command that
// needs passwords refuses with exit 2 before any connection, says how to
// recover, and writes nothing: no secrets file, no rendered file.
func TestMissingSecretsRefused(t *testing.T) {
	t.Setenv("DCCTL_PASSWORD_ACC1", "")
	t.Setenv("DCCTL_PASSWORD_ADMIN", "")
	inv := backboneInventory(t)
	secrets := inventory.SecretsPath(inv)
	renderOut := filepath.Join(t.TempDir(), "out")
	refusedEach(t, passwordCommands(t, inv, renderOut), "without a secrets file", func(name, text string) {
		for _, want := range []string{"does not exist", "restore the file", "DCCTL_PASSWORD_ACC1", "rotate-passwords"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: refusal does not say %q:\n%s", name, want, text)
			}
		}
		if _, err := os.Stat(secrets); !os.IsNotExist(err) {
			t.Fatalf("%s created the secrets file", name)
		}
	})
	if _, err := os.Stat(renderOut); !os.IsNotExist(err) {
		t.Errorf("refused render wrote %s", renderOut)
	}
	// validate needs no passwords.
	if _, errOut, code := runCLI(t, "validate", inv); code != 0 {
		t.Errorf("validate without a secrets file: exit %d: %s", code, errOut)
	}
	// Placeholders: render works, and still creates no secrets file.
	if _, errOut, code := runCLI(t, "render", inv, "--out", renderOut, "--placeholder-passwords"); code != 0 {
		t.Fatalf("render --placeholder-passwords: exit %d: %s", code, errOut)
	}
	conf, err := os.ReadFile(filepath.Join(renderOut, "bb_emea_1", "etc", "nats", "nats-server.conf"))
	if err != nil || !strings.Contains(string(conf), `user: "acc1"`) {
		t.Fatalf("placeholder render: %v\n%s", err, conf)
	}
	if _, err := os.Stat(secrets); !os.IsNotExist(err) {
		t.Fatalf("render --placeholder-passwords created the secrets file")
	}
	// A password for every user in the environment is enough.
	t.Setenv("DCCTL_PASSWORD_ACC1", "env-acc1-password")
	t.Setenv("DCCTL_PASSWORD_ADMIN", "env-admin-password")
	t.Setenv("DCCTL_ROUTE_PASSWORD", "env-route-password")
	// (with TLS on, the node certificates too: the deployment's CA, which
	// only provision creates, is a file)
	loaded, err := inventory.Load(inv)
	if err != nil {
		t.Fatal(err)
	}
	mat, err := pki.Prepare(loaded, time.Now())
	if err == nil {
		err = mat.Save()
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCLI(t, "render", inv, "--out", filepath.Join(t.TempDir(), "env")); code != 0 {
		t.Fatalf("render with every password in the environment: exit %d: %s", code, errOut)
	}
}

// TestUnknownNameBeforeSecrets: a name the inventory lacks is the
// operator's mistake and is said first, before any secret is read: even
// without a secrets file the refusal names the unknown node, cluster,
// domain, user or DC, and says nothing of secrets.
func TestUnknownNameBeforeSecrets(t *testing.T) {
	t.Setenv("DCCTL_PASSWORD_ACC1", "")
	t.Setenv("DCCTL_PASSWORD_ADMIN", "")
	inv := backboneInventory(t)
	common := []string{"-i", inv, "--ssh-timeout", "1s"}
	cases := map[string][]string{
		`no node "nosuch_9"`:          append([]string{"runbook", "replace-peer", "nosuch_9", "--yes"}, common...),
		`no node "nosuch_8"`:          append([]string{"runbook", "restore-node", "nosuch_8", "--dry-run"}, common...),
		`no cluster "NOSUCH"`:         append([]string{"runbook", "rolling-restart", "--cluster", "NOSUCH", "--dry-run"}, common...),
		`no cluster "NOSUCH2"`:        append([]string{"runbook", "upgrade", "--rollback", "--cluster", "NOSUCH2", "--dry-run"}, common...),
		`domain "nosuchdomain"`:       append([]string{"runbook", "expand-stream", "orders", "--domain", "nosuchdomain", "--dry-run"}, common...),
		`user nosuchuser is not`:      append([]string{"runbook", "rotate-passwords", "--user", "nosuchuser", "--dry-run"}, common...),
		`--from-dc "nosuchdc"`:        {"status", inv, "--from-dc", "nosuchdc"},
		`domain "nosuchstatusdomain"`: {"status", inv, "--domain", "nosuchstatusdomain"},
	}
	for want, args := range cases {
		out, errOut, code := runCLI(t, args...)
		text := out + errOut
		if code != 2 || !strings.Contains(text, want) || strings.Contains(text, "DCCTL_PASSWORD_") || strings.Contains(text, "secrets.toml") {
			t.Errorf("dcctl %s: exit %d, want 2 saying %s (and nothing of secrets):\n%s", strings.Join(args, " "), code, want, text)
		}
	}
}
