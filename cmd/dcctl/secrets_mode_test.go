package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
)

// TestLooseSecretsFileRefused: a secrets file that group or others can read
// is refused by every command that reads it, before any connection, and the
// refusal says how to fix it without showing a password.
func TestLooseSecretsFileRefused(t *testing.T) {
	spec := testcluster.Seed()
	spec.Clusters = spec.Clusters[:1]
	inv := testcluster.WriteInventory(t, spec)
	secrets := inventory.SecretsPath(inv)
	loaded, err := inventory.Load(inv)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := inventory.PrepareSecrets(loaded, func(string) string { return "" })
	if err == nil {
		err = sec.Save()
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(sec.Values()) == 0 {
		t.Fatal("no passwords in the secrets file")
	}
	common := []string{"-i", inv, "--ssh-timeout", "1s"}
	commands := [][]string{
		{"validate", inv},
		{"render", inv, "--out", filepath.Join(t.TempDir(), "out2")},
		{"plan", inv},
		{"provision", inv},
		{"status", inv},
		{"node", "start", "bb_emea_1", inv},
		{"runbook", "rolling-restart", "--dry-run"},
		{"runbook", "restore-node", "bb_emea_1", "--yes"},
		{"backup", "orders", "--domain", "hub", "--out", filepath.Join(t.TempDir(), "b")},
		{"context", "export", inv, "--dir", t.TempDir()},
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(secrets, mode); err != nil {
			t.Fatal(err)
		}
		for _, args := range commands {
			if args[0] == "runbook" || args[0] == "backup" {
				args = append(args, common...)
			}
			out, errOut, code := runCLI(t, args...)
			text := out + errOut
			name := strings.Join(args[:2], " ")
			if code != 2 {
				t.Errorf("%s with secrets mode %04o: exit %d, want 2 (refused)\n%s", name, mode, code, text)
			}
			if !strings.Contains(text, "readable by group or others") || !strings.Contains(text, "chmod 600") {
				t.Errorf("%s with secrets mode %04o: refusal does not say why and how to fix it:\n%s", name, mode, text)
			}
			for _, p := range sec.Values() {
				if strings.Contains(text, p) {
					t.Fatalf("%s printed a password", name)
				}
			}
		}
	}
}
