package remote

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The sudo path runs against sshtest's stand-in `sudo` (sudo is not
// installed on the test machine, and the tests run as root).

func TestSudoRunsCommandsAndUploadsThroughSudo(t *testing.T) {
	e := newTestEnv(t)
	sudoDir := e.srv.SudoStandIn(t)
	c := e.dial(t, func(cfg *Config) { cfg.Sudo = true; cfg.Transfer = TransferExec })

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
	sudoDir := e.srv.SudoStandIn(t)
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

// A host without sudo at all (a minimal image) fails with exit 127 and the
// shell's "sudo: not found"; the error says that sudo = true needs it.
// The test machine has no sudo (see above): its own shell says so.
func TestSudoMissingOnTheHostSaysSo(t *testing.T) {
	if p, err := exec.LookPath("sudo"); err == nil {
		t.Skipf("this machine has %s: a host without sudo cannot be shown here", p)
	}
	e := newTestEnv(t)
	c := e.dial(t, func(cfg *Config) { cfg.Sudo = true })
	_, _, err := c.Run(t.Context(), "true")
	var exitErr *ExitError
	if !errors.As(err, &exitErr) || exitErr.Code != 127 {
		t.Fatalf("Run through a missing sudo: got %v, want an ExitError with status 127 inside", err)
	}
	for _, want := range []string{c.Name(), "no sudo command", "sudo = false"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// A login other than root without sudo = true gets "Permission denied" for
// what dcctl installs; the error says what to set. The command here drops
// to nobody itself, for a real EACCES (the test runs as root).
func TestPermissionDeniedWithoutSudoSaysWhatToSet(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("no setpriv (util-linux) on this machine")
	}
	e := newTestEnv(t)
	c := e.dial(t) // as "dcctl", sudo = false
	dir := filepath.Join(e.dir, "private")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Run(t.Context(), "setpriv --reuid=65534 --regid=65534 --clear-groups mkdir "+filepath.Join(dir, "x"))
	var exitErr *ExitError
	if !errors.As(err, &exitErr) || !strings.Contains(string(exitErr.Stderr), "Permission denied") {
		t.Fatalf("mkdir as nobody in a 0700 root directory: got %v, want an ExitError with Permission denied", err)
	}
	for _, want := range []string{"commands run as dcctl, not root", "sudo = true", `ssh_user = "root"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// Over SFTP the same: the server answers SSH_FX_PERMISSION_DENIED (here
// for an immutable directory, which refuses root too).
func TestSFTPPermissionDeniedWithoutSudoSaysWhatToSet(t *testing.T) {
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("no chattr (e2fsprogs) on this machine")
	}
	e := newTestEnv(t)
	e.srv.OpenSSHStatus.Store(true)
	c := e.dial(t) // as "dcctl", sudo = false, sftp
	dir := filepath.Join(e.dir, "immutable")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
	err := c.Put(t.Context(), File{Path: filepath.Join(dir, "nats.conf"), Mode: 0o640, Content: strings.NewReader("x")}, nil)
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("Put into an immutable directory: got %v, want permission denied", err)
	}
	for _, want := range []string{"commands run as dcctl, not root", "sudo = true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
