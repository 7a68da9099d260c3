package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// -i before the command is the same -i: it must not be passed over for
// ./inventory.toml or $DCCTL_INVENTORY.
func TestInventoryFlagBeforeCommand(t *testing.T) {
	p := copyExample(t)
	t.Chdir(t.TempDir()) // no ./inventory.toml here
	t.Setenv("DCCTL_INVENTORY", filepath.Join(t.TempDir(), "missing.toml"))
	for _, args := range [][]string{
		{"-i", p, "validate"},
		{"--inventory", p, "validate"},
		{"-i", p, "graph"},
		{"-i", "elsewhere.toml", "validate", "-i", p}, // the nearer -i wins
	} {
		out, errOut, code := runCLI(t, args...)
		if code != 0 || !strings.Contains(out, "digraph") && !strings.Contains(out, p) {
			t.Errorf("dcctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
		}
	}
}

// A mistake on the command line is bad input: exit 2, one line on stderr
// that says what is wrong, nothing on stdout.
func TestUsageMistakesAreBadInput(t *testing.T) {
	p := copyExample(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"runbook", "bogus"}, `runbook: unknown command "bogus"`},
		{[]string{"context", "bogus"}, `context: unknown command "bogus"`},
		{[]string{"help", "bogus"}, `unknown command "bogus"`},
		{[]string{"runbook", "help", "bogus"}, `No help topic for 'bogus'`},
		{[]string{"validate", "--bogus", p}, "flag provided but not defined: -bogus"},
		{[]string{"runbook", "expand-stream", "S", "--bogus", p}, "flag provided but not defined: -bogus"},
		{[]string{"render", p}, "render: missing --out"},
		{[]string{"backup", "S", p}, "backup: missing --domain, --out"},
		{[]string{"runbook", "expand-stream", "S", p}, "runbook expand-stream: missing --domain"},
		{[]string{"runbook", "restore-stream", p}, "runbook restore-stream: missing --from"},
		{[]string{"validate", p, "extra"}, "validate: unexpected arguments extra"},
		{[]string{"status", p, "bb_emea_1"}, "status: unexpected arguments bb_emea_1"},
		{[]string{"plan", p, "a", "b"}, "plan: unexpected arguments a b"},
		// Zero or less would silently be the default bound or size.
		{[]string{"status", p, "--ssh-timeout", "0"}, "status: --ssh-timeout must be more than 0"},
		{[]string{"runbook", "rolling-restart", p, "--timeout", "-1s"}, "runbook rolling-restart: --timeout must be more than 0"},
		{[]string{"provision", p, "--concurrency", "0"}, "provision: --concurrency must be more than 0"},
		{[]string{"provision", p, "--gate-timeout=0s"}, "provision: --gate-timeout must be more than 0"},
	} {
		out, errOut, code := runCLI(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("dcctl %s: exit %d, want 2 and %q\nstdout: %s\nstderr: %s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
		}
	}
}

// --limit given twice means both lists: the first is not dropped for the
// second (an unknown name in either is refused before any connection).
func TestLimitIsRepeatable(t *testing.T) {
	p := copyExample(t)
	for _, args := range [][]string{
		{"plan", p, "--limit", "nosuch", "--limit", "bb_emea_1", "--ssh-timeout", "1s"},
		{"provision", p, "--check", "--limit", "bb_emea_1", "--limit", "us_1,nosuch", "--ssh-timeout", "1s"},
	} {
		_, errOut, code := runCLI(t, args...)
		if code != 2 || !strings.Contains(errOut, "node nosuch is not in inventory") {
			t.Errorf("dcctl %s: exit %d, want 2 naming nosuch\n%s", strings.Join(args, " "), code, errOut)
		}
	}
}

// `dcctl help CMD [SUB]` is that command's help, as git and go have it.
func TestHelpCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help"}, "dcctl - provision and operate"},
		{[]string{"help", "runbook"}, "dcctl runbook - operator procedures"},
		{[]string{"help", "runbook", "expand-stream"}, "dcctl runbook expand-stream - raise"},
		{[]string{"runbook", "help", "expand-stream"}, "dcctl runbook expand-stream - raise"},
		{[]string{"help", "node"}, "dcctl node - systemd control"},
	} {
		out, errOut, code := runCLI(t, tc.args...)
		if code != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("dcctl %s: exit %d, want %q\nstdout: %s\nstderr: %s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
		}
	}
}

// INVENTORY may come first, as in `dcctl provision inventory.toml`, also
// where a node or stream name follows the command.
func TestInventoryArgumentFirst(t *testing.T) {
	p := copyExample(t)
	for _, args := range [][]string{
		{"node", p, "stop", "nosuch", "--yes"},
		{"node", "stop", p, "nosuch", "--yes"},
		{"node", "stop", "nosuch", p, "--yes"},
		{"runbook", "replace-peer", p, "nosuch"},
		{"runbook", "restore-node", p, "nosuch", "--dry-run"},
	} {
		_, errOut, code := runCLI(t, args...)
		// Refused for the unknown name, found looking in that inventory.
		if code != 2 || !strings.Contains(errOut, "nosuch") || !strings.Contains(errOut, " in inventory "+p) && !strings.Contains(errOut, `"nosuch" in `+p) {
			t.Errorf("dcctl %s: exit %d, want 2: no node nosuch in %s\n%s", strings.Join(args, " "), code, p, errOut)
		}
	}
}
