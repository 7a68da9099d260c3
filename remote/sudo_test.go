package remote

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sudo is not installed on the test machine (and the tests run as root, where
// it would change nothing), so the sudo path runs against a stand-in `sudo`
// first on the fixture's PATH. It insists on -n, logs its first three
// arguments (the fourth is the script) and execs them, or refuses the way
// sudo -n does without NOPASSWD. What is under test is ours: that every
// command, and the upload's stdin stream, goes through `sudo -n sh -c`
// intact after two real shells have parsed it.
const sudoStandIn = `#!/bin/sh
printf '%s %s %s\n' "$1" "$2" "$3" >> "$(dirname "$0")/sudo.log"
if [ -e "$(dirname "$0")/deny" ]; then
	echo "sudo: a password is required" >&2
	exit 1
fi
[ "$1" = -n ] || { echo "sudo: expected -n" >&2; exit 1; }
shift
exec "$@"
`

func withSudoStandIn(t *testing.T, s *testServer) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sudo"), []byte(sudoStandIn), 0o755); err != nil {
		t.Fatal(err)
	}
	s.pathDir = dir
	return dir
}

func TestSudoRunsCommandsAndUploadsThroughSudo(t *testing.T) {
	e := newTestEnv(t)
	sudoDir := withSudoStandIn(t, e.srv)
	c := e.dial(t, func(cfg *Config) { cfg.Sudo = true })

	out, _, err := c.Run(t.Context(), "printf '%s' \"it's $((6*7))\"")
	if err != nil || string(out) != "it's 42" {
		t.Fatalf("Run through sudo = %q, %v", out, err)
	}
	path := filepath.Join(e.dir, "nats.conf")
	content := []byte("listen: 0.0.0.0:4222\n")
	if err := c.Put(t.Context(), File{Path: path, Mode: 0o640, Content: bytes.NewReader(content)}, nil); err != nil {
		t.Fatalf("Put through sudo: %v", err)
	}
	assertFile(t, path, content)

	log, err := os.ReadFile(filepath.Join(sudoDir, "sudo.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) != 2 {
		t.Fatalf("sudo ran %d times, want 2 (Run and Put):\n%s", len(lines), log)
	}
	for _, l := range lines {
		if l != "-n sh -c" {
			t.Errorf("sudo was called as %q, want -n sh -c ...", l)
		}
	}
}

func TestSudoWithoutNOPASSWDSaysWhatToConfigure(t *testing.T) {
	e := newTestEnv(t)
	sudoDir := withSudoStandIn(t, e.srv)
	os.WriteFile(filepath.Join(sudoDir, "deny"), nil, 0o644)
	c := e.dial(t, func(cfg *Config) { cfg.Sudo = true })

	_, _, err := c.Run(t.Context(), "systemctl daemon-reload")
	var exitErr *ExitError
	if !errors.As(err, &exitErr) || exitErr.Code != 1 {
		t.Fatalf("Run with sudo refusing: got %v, want an ExitError inside", err)
	}
	for _, want := range []string{"NOPASSWD", "dcctl", "password is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
