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

// The host's hash of what it received: OpenSSL's when the host has it,
// sha256sum's otherwise (or when openssl fails), and a wrong content is
// refused either way. Each case uploads through the in-process sshd, whose
// commands run in a real shell, with both hashers counted by shims.

// pathWithout returns a PATH whose directory links to every program of
// the current PATH except names: a host that lacks them.
func pathWithout(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	skip := map[string]bool{}
	for _, n := range names {
		skip[n] = true
	}
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if skip[e.Name()] {
				continue
			}
			// The first of a name on the PATH wins, as for the shell.
			_ = os.Symlink(filepath.Join(d, e.Name()), filepath.Join(dir, e.Name()))
		}
	}
	return dir
}

// countHashers puts shims for openssl and sha256sum first on the server's
// PATH that log their calls and run the real program (an openssl that
// fails when broken is set); it returns the log's path.
func countHashers(t *testing.T, e *testEnv, broken bool) string {
	t.Helper()
	calls := filepath.Join(t.TempDir(), "calls")
	for _, name := range []string{"openssl", "sha256sum"} {
		real, err := exec.LookPath(name)
		if err != nil {
			if name == "openssl" {
				continue // a host without it: the shim is not there either
			}
			t.Fatal(err)
		}
		run := "exec " + real + ` "$@"`
		if name == "openssl" && broken {
			run = "echo 'openssl: broken' >&2; exit 1"
		}
		e.srv.Command(t, name, "#!/bin/sh\necho "+name+" >> '"+calls+"'\n"+run+"\n")
	}
	return calls
}

func hasherCalls(t *testing.T, calls string) []string {
	t.Helper()
	b, err := os.ReadFile(calls)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// putAndStage installs one file with Put (its script hashes it) and stages
// another that StagedChecks then checks on the host, and returns the
// hashers that ran for those; then the staged file, changed, must be
// refused by StagedChecks.
func putAndStage(t *testing.T, e *testEnv, c *Client, calls string) []string {
	t.Helper()
	content := randomBytes(t, 1<<20)
	installed := filepath.Join(e.dir, "installed bin") // a space: quoted everywhere
	if err := c.Put(t.Context(), File{Path: installed, Mode: 0o755, Content: bytes.NewReader(content), SHA256: sum(content)}, nil); err != nil {
		t.Fatalf("Put: %v", err)
	}
	assertFile(t, installed, content)

	staged := File{Path: filepath.Join(e.dir, "staged.conf"), Mode: 0o640, Content: bytes.NewReader(content), SHA256: sum(content), Stage: true}
	if err := c.Put(t.Context(), staged, nil); err != nil {
		t.Fatalf("Put staged: %v", err)
	}
	if _, _, err := c.Run(t.Context(), StagedChecks([]File{staged})); err != nil {
		t.Fatalf("StagedChecks of the staged file: %v", err)
	}
	if st, err := os.Stat(staged.Path + TempSuffix); err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("staged file after its check: %v (%v), want mode 0640", st, err)
	}

	ran := hasherCalls(t, calls)

	os.WriteFile(staged.Path+TempSuffix, []byte("tampered\n"), 0o600)
	_, _, err := c.Run(t.Context(), StagedChecks([]File{staged}))
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != exitMismatch {
		t.Fatalf("StagedChecks of a changed file: %v, want exit status %d", err, exitMismatch)
	}
	got, err := c.SHA256(t.Context(), installed)
	if err != nil || got != sum(content) {
		t.Fatalf("SHA256 of the installed file: %q, %v; want %s", got, err, sum(content))
	}
	return ran
}

func TestHostHashesWithOpenSSLWhenItHasIt(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl on this machine: the host stand-in cannot have it")
	}
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		got := putAndStage(t, e, c, countHashers(t, e, false))
		for _, name := range got {
			if name != "openssl" {
				t.Errorf("the host ran %s (calls %v); with openssl there, only openssl hashes", name, got)
				break
			}
		}
		if len(got) == 0 {
			t.Error("openssl never ran")
		}
	})
}

func TestHostHashesWithSHA256SumWithoutOpenSSL(t *testing.T) {
	t.Setenv("PATH", pathWithout(t, "openssl"))
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		if got := putAndStage(t, e, c, countHashers(t, e, false)); !strings.Contains(strings.Join(got, " "), "sha256sum") {
			t.Errorf("calls %v, want sha256sum's", got)
		}
	})
}

func TestHostHashesWithSHA256SumWhenOpenSSLFails(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl on this machine")
	}
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		if got := putAndStage(t, e, c, countHashers(t, e, true)); !strings.Contains(strings.Join(got, " "), "sha256sum") {
			t.Errorf("calls %v, want sha256sum's after openssl failed", got)
		}
	})
}

// A staged upload is hashed on the host once, by the caller's check, over
// either transfer: over exec the upload only writes the temporary file (it
// used to hash it too, and the check again: ~80 ms of a host's CPU for a
// 24 MB binary). A content that is not what was promised is still refused
// by the upload over exec, from what was sent.
func TestStagedUploadIsHashedOnceOnTheHost(t *testing.T) {
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		calls := countHashers(t, e, false)
		content := randomBytes(t, 1<<20)
		staged := File{Path: filepath.Join(e.dir, "nats-server"), Mode: 0o755, Content: bytes.NewReader(content), SHA256: sum(content), Stage: true}
		if err := c.Put(t.Context(), staged, nil); err != nil {
			t.Fatalf("Put staged: %v", err)
		}
		if got := hasherCalls(t, calls); len(got) != 0 {
			t.Errorf("a staged upload hashed on the host (%v); its check does", got)
		}
		if _, _, err := c.Run(t.Context(), StagedChecks([]File{staged})); err != nil {
			t.Fatalf("StagedChecks: %v", err)
		}
		if got := hasherCalls(t, calls); len(got) != 1 {
			t.Errorf("hashers run for one staged file: %v, want one", got)
		}

		other := File{Path: filepath.Join(e.dir, "other"), Mode: 0o644, Content: strings.NewReader("new"), SHA256: sum([]byte("promised")), Stage: true}
		err := c.Put(t.Context(), other, nil)
		if err == nil || !strings.Contains(err.Error(), "File.SHA256 says") {
			t.Fatalf("staged upload of another content: %v, want it refused from what was sent", err)
		}
		tempGone(t, other.Path)
	})
}
