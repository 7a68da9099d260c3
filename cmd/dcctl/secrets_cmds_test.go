package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
)

// backboneInventory writes the seed topology's backbone cluster as an
// inventory with no hosts behind it: the secrets tests want refusals that
// come before any connection.
func backboneInventory(t *testing.T) string {
	t.Helper()
	spec := testcluster.Seed()
	spec.Clusters = spec.Clusters[:1]
	return testcluster.WriteInventory(t, spec)
}

// passwordCommands are the commands that read the secrets file, as run on
// inv; render writes under renderOut.
func passwordCommands(t *testing.T, inv, renderOut string) [][]string {
	common := []string{"-i", inv, "--ssh-timeout", "1s"}
	return [][]string{
		{"render", inv, "--out", renderOut},
		{"status", inv},
		{"node", "start", "bb_emea_1", inv, "--yes"},
		append([]string{"runbook", "rolling-restart", "--dry-run"}, common...),
		append([]string{"runbook", "restore-node", "bb_emea_1", "--yes"}, common...),
		append([]string{"backup", "orders", "--domain", "hub", "--out", filepath.Join(t.TempDir(), "b")}, common...),
		{"context", "export", inv, "--dir", filepath.Join(t.TempDir(), "ctx")},
	}
}

// refusedEach runs every command, fails the test unless it is refused
// (exit 2), and hands check the command's name and output.
func refusedEach(t *testing.T, commands [][]string, when string, check func(name, text string)) {
	t.Helper()
	for _, args := range commands {
		out, errOut, code := runCLI(t, args...)
		text := out + errOut
		name := strings.Join(args[:2], " ")
		if code != 2 {
			t.Errorf("%s %s: exit %d, want 2 (refused)\n%s", name, when, code, text)
		}
		check(name, text)
	}
}
