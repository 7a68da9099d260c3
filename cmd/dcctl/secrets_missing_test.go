package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
)

// TestMissingSecretsRefused: without the secrets file, every command that
// needs passwords refuses with exit 2 before any connection, says how to
// recover, and writes nothing: no secrets file, no rendered file.
func TestMissingSecretsRefused(t *testing.T) {
	t.Setenv("DCCTL_PASSWORD_ACC1", "")
	t.Setenv("DCCTL_PASSWORD_ADMIN", "")
	spec := testcluster.Seed()
	spec.Clusters = spec.Clusters[:1]
	inv := testcluster.WriteInventory(t, spec)
	secrets := inventory.SecretsPath(inv)
	renderOut := filepath.Join(t.TempDir(), "out")
	common := []string{"-i", inv, "--ssh-timeout", "1s"}
	commands := [][]string{
		{"render", inv, "--out", renderOut},
		{"status", inv},
		{"node", "start", "bb_emea_1", inv, "--yes"},
		{"runbook", "rolling-restart", "--dry-run"},
		{"runbook", "restore-node", "bb_emea_1", "--yes"},
		{"backup", "orders", "--domain", "hub", "--out", filepath.Join(t.TempDir(), "b")},
		{"context", "export", inv, "--dir", filepath.Join(t.TempDir(), "ctx")},
	}
	for _, args := range commands {
		if args[0] == "runbook" || args[0] == "backup" {
			args = append(args, common...)
		}
		out, errOut, code := runCLI(t, args...)
		text := out + errOut
		name := strings.Join(args[:2], " ")
		if code != 2 {
			t.Errorf("%s without a secrets file: exit %d, want 2 (refused)\n%s", name, code, text)
		}
		for _, want := range []string{"does not exist", "restore the file", "DCCTL_PASSWORD_ACC1", "rotate-passwords"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: refusal does not say %q:\n%s", name, want, text)
			}
		}
		if _, err := os.Stat(secrets); !os.IsNotExist(err) {
			t.Fatalf("%s created the secrets file", name)
		}
	}
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
	if _, errOut, code := runCLI(t, "render", inv, "--out", filepath.Join(t.TempDir(), "env")); code != 0 {
		t.Fatalf("render with every password in the environment: exit %d: %s", code, errOut)
	}
}
