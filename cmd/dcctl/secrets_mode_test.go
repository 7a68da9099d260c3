package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// TestLooseSecretsFileRefused: a secrets file that group or others can read
// is refused by every command that reads it, before any connection, and the
// refusal says how to fix it without showing a password.
func TestLooseSecretsFileRefused(t *testing.T) {
	inv := backboneInventory(t)
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
	commands := append([][]string{{"validate", inv}, {"plan", inv}, {"provision", inv}},
		passwordCommands(t, inv, filepath.Join(t.TempDir(), "out"))...)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(secrets, mode); err != nil {
			t.Fatal(err)
		}
		refusedEach(t, commands, fmt.Sprintf("with secrets mode %04o", mode), func(name, text string) {
			if !strings.Contains(text, "readable by group or others") || !strings.Contains(text, "chmod 600") {
				t.Errorf("%s with secrets mode %04o: refusal does not say why and how to fix it:\n%s", name, mode, text)
			}
			for _, p := range sec.Values() {
				if strings.Contains(text, p) {
					t.Fatalf("%s printed a password", name)
				}
			}
		})
	}
}
