package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testwait"
)

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// assertFile checks content and that no temporary file is left beside it.
func assertFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s holds %d bytes (sha256 %s), want %d bytes (sha256 %s)", path, len(got), sum(got), len(want), sum(want))
	}
	if _, err := os.Lstat(path + TempSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary file %s is still there (lstat: %v)", path+TempSuffix, err)
	}
}

func currentOwner(t *testing.T) (string, string) {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	return u.Username, g.Name
}

func TestPutInstallsContentModeAndOwner(t *testing.T) {
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		path := filepath.Join(e.dir, "nats-server.conf")
		if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		content := randomBytes(t, 3<<20) // several SSH windows' worth
		owner, group := currentOwner(t)
		var last atomic.Int64

		err := c.Put(t.Context(), File{
			Path: path, Mode: 0o640, Owner: owner, Group: group,
			Content: bytes.NewReader(content), SHA256: sum(content), Size: int64(len(content)),
		}, func(n int64) { last.Store(n) })
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		assertFile(t, path, content)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o640 {
			t.Errorf("mode %v, want 0640", st.Mode().Perm())
		}
		if sys := st.Sys().(*syscall.Stat_t); int(sys.Uid) != os.Getuid() {
			t.Errorf("owner uid %d, want %d", sys.Uid, os.Getuid())
		}
		if last.Load() != int64(len(content)) {
			t.Errorf("last progress %d, want %d", last.Load(), len(content))
		}

		// The host's sha256 is how callers skip an upload that changes nothing.
		got, err := c.SHA256(t.Context(), path)
		if err != nil || got != sum(content) {
			t.Fatalf("SHA256 = %q, %v; want %s", got, err, sum(content))
		}
	})
}

// forTransfers runs test once over SFTP and once over exec, each against a
// fresh server, and checks that the upload went the way asked.
func forTransfers(t *testing.T, test func(t *testing.T, e *testEnv, c *Client)) {
	for _, tr := range []string{TransferSFTP, TransferExec} {
		t.Run(tr, func(t *testing.T) {
			e := newTestEnv(t)
			c := e.dial(t, func(cfg *Config) { cfg.Transfer = tr })
			test(t, e, c)
			switch n := e.srv.SFTPSessions.Load(); {
			case tr == TransferSFTP && n == 0:
				t.Error("transfer sftp: no SFTP session was opened")
			case tr == TransferExec && n != 0:
				t.Errorf("transfer exec: %d SFTP sessions were opened", n)
			}
		})
	}
}

func TestSHA256OfMissingFileIsNotExist(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)
	_, err := c.SHA256(t.Context(), filepath.Join(e.dir, "nope"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("SHA256 of a missing file: got %v, want fs.ErrNotExist", err)
	}
}

func TestPutComputesSHA256OfSeekableContent(t *testing.T) {
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		path := filepath.Join(e.dir, "unit")
		if err := c.Put(t.Context(), File{Path: path, Mode: 0o600, Content: strings.NewReader("[Unit]\n")}, nil); err != nil {
			t.Fatalf("Put: %v", err)
		}
		assertFile(t, path, []byte("[Unit]\n"))

		err := c.Put(t.Context(), File{Path: path, Mode: 0o600, Content: io.MultiReader(strings.NewReader("x"))}, nil)
		if err == nil || !strings.Contains(err.Error(), "SHA256") {
			t.Fatalf("Put of unseekable content without SHA256: got %v, want a refusal naming SHA256", err)
		}
	})
}

func TestPutWithWrongSHA256InstallsNothing(t *testing.T) {
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		path := filepath.Join(e.dir, "f")
		os.WriteFile(path, []byte("old"), 0o644)
		err := c.Put(t.Context(), File{Path: path, Mode: 0o644, Content: strings.NewReader("new"), SHA256: sum([]byte("other"))}, nil)
		if err == nil || !strings.Contains(err.Error(), "File.SHA256") {
			t.Fatalf("Put with a wrong SHA256: got %v, want an error naming File.SHA256", err)
		}
		assertFile(t, path, []byte("old"))
	})
}

// Content marked Hashed is not hashed again here, but the host still
// checks it: a content that is not what SHA256 says installs nothing, on
// either transfer, staged or not.
func TestPutHashedContentIsStillCheckedOnTheHost(t *testing.T) {
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		path := filepath.Join(e.dir, "f")
		os.WriteFile(path, []byte("old"), 0o644)
		err := c.Put(t.Context(), File{Path: path, Mode: 0o644, Content: strings.NewReader("new"), SHA256: sum([]byte("other")), Hashed: true}, nil)
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != exitMismatch || !strings.Contains(err.Error(), "incomplete upload") {
			t.Fatalf("Put of Hashed content with a wrong SHA256: %v, want the host's refusal (exit status %d)", err, exitMismatch)
		}
		assertFile(t, path, []byte("old"))

		err = c.Put(t.Context(), File{Path: path, Mode: 0o644, Content: strings.NewReader("new"), SHA256: sum([]byte("other")), Hashed: true, Stage: true}, nil)
		if err == nil {
			_, _, err = c.Run(t.Context(), StagedChecks([]File{{Path: path, Mode: 0o644, SHA256: sum([]byte("other"))}}))
		}
		if !errors.As(err, &ee) || ee.Code != exitMismatch {
			t.Fatalf("staged Hashed content with a wrong SHA256, checked on the host: %v, want exit status %d", err, exitMismatch)
		}
		assertFile(t, path, []byte("old"))
	})
}

type failingReader struct {
	r     io.Reader
	after int
	n     int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n >= f.after {
		return 0, errors.New("disk read error")
	}
	if len(p) > f.after-f.n {
		p = p[:f.after-f.n]
	}
	n, err := f.r.Read(p)
	f.n += n
	return n, err
}

func TestPutReaderFailingMidwayLeavesOldFile(t *testing.T) {
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		path := filepath.Join(e.dir, "nats-server")
		old := []byte("old binary")
		os.WriteFile(path, old, 0o755)
		content := randomBytes(t, 1<<20)

		err := c.Put(t.Context(), File{
			Path: path, Mode: 0o755, SHA256: sum(content),
			Content: &failingReader{r: bytes.NewReader(content), after: len(content) / 2},
		}, nil)
		if err == nil || !strings.Contains(err.Error(), "disk read error") {
			t.Fatalf("Put with a failing reader: got %v, want the read error", err)
		}
		// The host script has exited before Put returns: no polling needed.
		assertFile(t, path, old)
	})
}

func TestPutExecConnectionLostMidwayLeavesOldFile(t *testing.T) {
	e := newTestEnv(t)
	e.srv.KillAfter.Store(512 << 10) // drop the connection after 512 KiB
	c := e.dial(t, func(cfg *Config) { cfg.Transfer = TransferExec })
	path := filepath.Join(e.dir, "nats-server")
	old := []byte("old binary")
	os.WriteFile(path, old, 0o755)
	content := randomBytes(t, 4<<20)

	err := c.Put(t.Context(), File{Path: path, Mode: 0o755, SHA256: sum(content), Content: bytes.NewReader(content)}, nil)
	if err == nil {
		t.Fatal("Put over a dropped connection succeeded")
	}
	t.Logf("Put over a dropped connection: %v", err)
	// The host notices the loss on its own time; its script then cleans up.
	tempGone(t, path)
	assertFile(t, path, old)
}

func TestPutReplacesLeftoverTempFile(t *testing.T) {
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		path := filepath.Join(e.dir, "nats-server.conf")
		// A leftover from a host that crashed mid-upload, even a symlink to
		// something that must not be written through.
		victim := filepath.Join(e.dir, "victim")
		os.WriteFile(victim, []byte("keep"), 0o644)
		if err := os.Symlink(victim, path+TempSuffix); err != nil {
			t.Fatal(err)
		}
		if err := c.Put(t.Context(), File{Path: path, Mode: 0o644, Content: strings.NewReader("new")}, nil); err != nil {
			t.Fatalf("Put: %v", err)
		}
		assertFile(t, path, []byte("new"))
		assertFile(t, victim, []byte("keep"))
	})
}

func TestPutRefusesBadTargets(t *testing.T) {
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		dir := filepath.Join(e.dir, "etc-nats")
		os.Mkdir(dir, 0o755)
		for _, tc := range []struct{ path, want string }{
			{"relative/path", "absolute"},
			{dir, "is a directory"},
			{filepath.Join(e.dir, "missing-dir", "f"), "missing-dir/ does not exist"},
		} {
			err := c.Put(t.Context(), File{Path: tc.path, Mode: 0o644, Content: strings.NewReader("x")}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Put to %s: got %v, want an error containing %q", tc.path, err, tc.want)
			}
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 0 {
			t.Errorf("Put into a directory path left %v in it", entries)
		}
	})
}

func TestPutCancelledLeavesOldFile(t *testing.T) {
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		path := filepath.Join(e.dir, "f")
		os.WriteFile(path, []byte("old"), 0o644)
		ctx, cancel := context.WithCancel(t.Context())
		pr, pw := io.Pipe()
		defer pw.Close()
		go func() {
			pw.Write([]byte("partial")) // the host has started receiving
			cancel()
		}()
		err := c.Put(ctx, File{Path: path, Mode: 0o644, Content: pr, SHA256: sum([]byte("partial and more"))}, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Put: got %v, want context.Canceled", err)
		}
		t.Logf("cancelled Put: %v", err)
		tempGone(t, path)
		assertFile(t, path, []byte("old"))
	})
}

func TestPutCheckRefusesAFileThatDoesNotRun(t *testing.T) {
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		path := filepath.Join(e.dir, "nats-server")
		old := []byte("old binary")
		os.WriteFile(path, old, 0o755)
		for name, content := range map[string]string{
			"fails":               "#!/bin/sh\necho 'illegal instruction' >&2\nexit 132\n",
			"missing interpreter": "#!/nonexistent/ld-linux.so.2\n",
		} {
			err := c.Put(t.Context(), File{Path: path, Mode: 0o755, Content: strings.NewReader(content), Check: []string{"--version"}}, nil)
			if !errors.Is(err, ErrCheckFailed) || !strings.Contains(err.Error(), "installed file stays") {
				t.Fatalf("%s: Put of a file that does not run: got %v, want ErrCheckFailed", name, err)
			}
			t.Logf("%s: %v", name, err)
			assertFile(t, path, old)
			if _, err := os.Lstat(path + TempSuffix); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: temporary file left behind: %v", name, err)
			}
		}
		if !strings.Contains(fmt.Sprint(c.Put(t.Context(), File{Path: path, Mode: 0o755, Content: strings.NewReader("#!/bin/sh\necho 'illegal instruction' >&2\nexit 132\n"), Check: []string{"--version"}}, nil)), "illegal instruction") {
			t.Error("the check's output is not in the error")
		}
	})
}

func TestPutCheckRunsTheNewFileBeforeTheRename(t *testing.T) {
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		path := filepath.Join(e.dir, "nats-server")
		os.WriteFile(path, []byte("old binary"), 0o755)
		seen := filepath.Join(e.dir, "seen")
		// The new program records how it was run: which file, which arguments.
		content := fmt.Sprintf("#!/bin/sh\necho \"$0 $*\" > %s\necho 'nats-server: v9'\n", seen)
		if err := c.Put(t.Context(), File{Path: path, Mode: 0o755, Content: strings.NewReader(content), Check: []string{"--version"}}, nil); err != nil {
			t.Fatalf("Put of a file that runs: %v", err)
		}
		assertFile(t, path, []byte(content))
		assertFile(t, seen, []byte(path+TempSuffix+" --version\n"))
	})
}

// A staged Put leaves the content beside the target, which keeps its old
// content; StagedCheck then checks it and sets mode and owner. Over SFTP
// the staged Put runs nothing on the host.
func TestPutStageLeavesTheFileBesideTheTarget(t *testing.T) {
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		path := filepath.Join(e.dir, "nats-server.conf")
		if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		content := []byte("new\n")
		owner, group := currentOwner(t)
		f := File{Path: path, Mode: 0o640, Owner: owner, Group: group, Content: bytes.NewReader(content), SHA256: sum(content), Stage: true}
		before := e.srv.Execs()
		if err := c.Put(t.Context(), f, nil); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if n := e.srv.Execs() - before; c.transfer == TransferSFTP && n != 0 {
			t.Errorf("a staged Put over SFTP ran %d commands on the host, want none", n)
		}
		if got, _ := os.ReadFile(path); string(got) != "old\n" {
			t.Errorf("target holds %q, want the old content", got)
		}
		if _, stderr, err := c.Run(t.Context(), StagedCheck(f)); err != nil {
			t.Fatalf("StagedCheck: %v %s", err, stderr)
		}
		st, err := os.Stat(path + TempSuffix)
		if err != nil {
			t.Fatalf("staged file: %v", err)
		}
		if got, _ := os.ReadFile(path + TempSuffix); !bytes.Equal(got, content) || st.Mode().Perm() != 0o640 {
			t.Errorf("staged file holds %q mode %o, want %q mode 640", got, st.Mode().Perm(), content)
		}

		// A staged file that is not what was sent fails the check and goes.
		os.WriteFile(path+TempSuffix, []byte("tampered\n"), 0o600)
		_, _, err = c.Run(t.Context(), StagedCheck(f))
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != exitMismatch {
			t.Fatalf("StagedCheck of another content: %v, want exit status %d", err, exitMismatch)
		}
		if _, err := os.Lstat(path + TempSuffix); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a rejected staged file stays (lstat: %v)", err)
		}
	})
}

// tempGone waits for the host to remove path's temporary file.
func tempGone(t *testing.T, path string) {
	t.Helper()
	testwait.Eventually(t, 5*time.Second, "the host to remove the temporary file", func() error {
		if _, err := os.Lstat(path + TempSuffix); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s%s: %v", path, TempSuffix, err)
		}
		return nil
	})
}
