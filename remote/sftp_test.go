package remote

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// logLines collects Config.Log lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) log(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func (l *logLines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func TestPutSFTPConnectionLostMidwayLeavesOldFileAndTheNextPutCleansUp(t *testing.T) {
	e := newTestEnv(t)
	e.srv.KillAfter.Store(512 << 10) // drop the connection after 512 KiB
	c := e.dial(t)
	path := filepath.Join(e.dir, "nats-server")
	old := []byte("old binary")
	os.WriteFile(path, old, 0o755)
	content := randomBytes(t, 4<<20)

	err := c.Put(t.Context(), File{Path: path, Mode: 0o755, SHA256: sum(content), Content: bytes.NewReader(content)}, nil)
	if err == nil {
		t.Fatal("Put over a dropped connection succeeded")
	}
	t.Logf("Put over a dropped connection: %v", err)
	if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
		t.Fatalf("the target changed: %d bytes", len(got))
	}
	// The SFTP server cannot know the transfer was cut short: the partial
	// temporary file stays until the next run.
	st, err := os.Lstat(path + TempSuffix)
	if err != nil || st.Size() >= int64(len(content)) {
		t.Fatalf("want a partial temporary file after the drop: %v, %v", st, err)
	}
	if e.srv.SFTPSessions.Load() == 0 {
		t.Fatal("the upload did not go over SFTP")
	}

	e.srv.KillAfter.Store(0)
	c2 := e.dial(t)
	if err := c2.Put(t.Context(), File{Path: path, Mode: 0o755, SHA256: sum(content), Content: bytes.NewReader(content)}, nil); err != nil {
		t.Fatalf("Put on the next run: %v", err)
	}
	assertFile(t, path, content)
}

func TestPutFallsBackToExecWithoutSFTPSubsystem(t *testing.T) {
	e := newTestEnv(t)
	e.srv.NoSFTP.Store(true)
	var log logLines
	c := e.dial(t, func(cfg *Config) { cfg.Log = log.log })
	for i, content := range []string{"first\n", "second\n"} {
		path := filepath.Join(e.dir, "f"+string(rune('0'+i)))
		if err := c.Put(t.Context(), File{Path: path, Mode: 0o644, Content: strings.NewReader(content)}, nil); err != nil {
			t.Fatalf("Put %d without sftp: %v", i, err)
		}
		assertFile(t, path, []byte(content))
	}
	lines := log.get()
	if len(lines) != 1 || !strings.Contains(lines[0], c.Name()) || !strings.Contains(lines[0], "exec") {
		t.Fatalf("log lines %q, want one naming the host and exec", lines)
	}
	t.Log(lines[0])
}

func TestPutOverSudoRunsTheHostsSFTPServerThroughSudo(t *testing.T) {
	e := newTestEnv(t)
	sudoDir := e.srv.SudoStandIn(t)
	e.srv.SFTPServerStandIn(t)
	var log logLines
	c := e.dial(t, func(cfg *Config) { cfg.Sudo = true; cfg.Log = log.log })
	path := filepath.Join(e.dir, "nats.conf")
	content := randomBytes(t, 1<<20)
	owner, group := currentOwner(t)
	for i := 0; i < 2; i++ {
		f := File{Path: path, Mode: 0o640, Owner: owner, Group: group, Content: bytes.NewReader(content), SHA256: sum(content)}
		if err := c.Put(t.Context(), f, nil); err != nil {
			t.Fatalf("Put %d over sudo and sftp: %v", i, err)
		}
		assertFile(t, path, content)
	}
	started, _ := os.ReadFile(filepath.Join(sudoDir, "sftp-server.log"))
	if n := strings.Count(string(started), "started"); n != 1 {
		t.Fatalf("sftp-server started %d times, want once for the connection", n)
	}
	sudoLog, _ := os.ReadFile(filepath.Join(sudoDir, "sudo.log"))
	// sftp-server once, then the install script for each Put.
	if n := strings.Count(string(sudoLog), "-n sh -c"); n != 3 {
		t.Fatalf("sudo -n sh -c ran %d times, want 3:\n%s", n, sudoLog)
	}
	if e.srv.SFTPSessions.Load() != 0 {
		t.Error("the sshd's own sftp subsystem was used: it would run as the login user, not root")
	}
	if lines := log.get(); len(lines) != 0 {
		t.Errorf("log lines %q, want none", lines)
	}
}

func TestPutOverSudoFallsBackToExecWithoutSFTPServer(t *testing.T) {
	for _, p := range sftpServers {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("this machine has %s: the fallback cannot be shown here", p)
		}
	}
	e := newTestEnv(t)
	sudoDir := e.srv.SudoStandIn(t)
	var log logLines
	c := e.dial(t, func(cfg *Config) { cfg.Sudo = true; cfg.Log = log.log })
	path := filepath.Join(e.dir, "nats.conf")
	for i, content := range []string{"first\n", "second\n"} {
		if err := c.Put(t.Context(), File{Path: path, Mode: 0o640, Content: strings.NewReader(content)}, nil); err != nil {
			t.Fatalf("Put %d over sudo without sftp-server: %v", i, err)
		}
		assertFile(t, path, []byte(content))
	}
	lines := log.get()
	if len(lines) != 1 || !strings.Contains(lines[0], "no sftp-server") {
		t.Fatalf("log lines %q, want one saying there is no sftp-server", lines)
	}
	// One look for an sftp-server, then one install script per Put.
	sudoLog, _ := os.ReadFile(filepath.Join(sudoDir, "sudo.log"))
	if n := strings.Count(string(sudoLog), "-n sh -c"); n != 3 {
		t.Fatalf("sudo -n sh -c ran %d times, want 3:\n%s", n, sudoLog)
	}
}

func TestPutOverSudoWithoutNOPASSWDSaysWhatToConfigure(t *testing.T) {
	e := newTestEnv(t)
	sudoDir := e.srv.SudoStandIn(t)
	e.srv.SFTPServerStandIn(t)
	os.WriteFile(filepath.Join(sudoDir, "deny"), nil, 0o644)
	c := e.dial(t, func(cfg *Config) { cfg.Sudo = true })
	path := filepath.Join(e.dir, "f")
	err := c.Put(t.Context(), File{Path: path, Mode: 0o644, Content: strings.NewReader("x")}, nil)
	if err == nil || !strings.Contains(err.Error(), "NOPASSWD") {
		t.Fatalf("Put with sudo refusing: got %v, want an error saying to configure NOPASSWD", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file was written: %v", err)
	}
}

func TestDialRefusesAnUnknownTransfer(t *testing.T) {
	e := newTestEnv(t)
	e.trust(t, e.srv)
	cfg := e.config(e.srv)
	cfg.Transfer = "scp"
	c, err := Dial(t.Context(), cfg)
	if err == nil {
		c.Close()
		t.Fatal("Dial with transfer scp succeeded")
	}
	if !strings.Contains(err.Error(), `"scp"`) || !strings.Contains(err.Error(), "sftp") {
		t.Fatalf("Dial with transfer scp: %v, want the value and the choices", err)
	}
}

// The host checks what arrived over SFTP too: a temporary file whose bytes
// are not the promised ones (corrupted on the way or on disk) is refused and
// removed, and the target stays.
func TestSFTPInstallScriptRefusesAChecksumMismatchOnTheHost(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)
	path := filepath.Join(e.dir, "nats-server")
	os.WriteFile(path, []byte("old"), 0o755)
	os.WriteFile(path+TempSuffix, []byte("corrupted"), 0o600)
	script := installScript(File{Path: path, Mode: 0o755}, sum([]byte("new")), false)
	_, _, err := c.Run(t.Context(), script)
	var exitErr *ExitError
	if !errors.As(err, &exitErr) || exitErr.Code != exitMismatch || !strings.Contains(string(exitErr.Stderr), "nothing installed") {
		t.Fatalf("install of a corrupted temporary file: got %v, want exit %d saying nothing was installed", err, exitMismatch)
	}
	assertFile(t, path, []byte("old"))
}

// TestPutFallsBackToExecWhenTheSubsystemsProgramIsMissing: Debian's sshd
// names /usr/lib/openssh/sftp-server in its Subsystem line whether or not
// openssh-sftp-server is installed (it is only recommended). sshd then
// accepts the subsystem request and its shell fails to run the program
// (exit 127): that host has no sftp-server, and Put falls back to exec as
// it does for an sshd with no subsystem at all, saying so once. It used to
// fail every upload with "start sftp: ... exited with status 127".
func TestPutFallsBackToExecWhenTheSubsystemsProgramIsMissing(t *testing.T) {
	e := newTestEnv(t)
	missing := filepath.Join(e.dir, "usr/lib/openssh/sftp-server")
	e.srv.SFTPCommand.Store(&missing)
	var log logLines
	c := e.dial(t, func(cfg *Config) { cfg.Log = log.log })
	path := filepath.Join(e.dir, "nats.conf")
	for i, content := range []string{"first\n", "second\n"} {
		if err := c.Put(t.Context(), File{Path: path, Mode: 0o640, Content: strings.NewReader(content)}, nil); err != nil {
			t.Fatalf("Put %d with the subsystem's program missing: %v", i, err)
		}
		assertFile(t, path, []byte(content))
	}
	lines := log.get()
	if len(lines) != 1 || !strings.Contains(lines[0], "sftp subsystem ended before the SFTP handshake") || !strings.Contains(lines[0], "exec") {
		t.Fatalf("log lines %q, want one saying the subsystem ended and uploads go through exec", lines)
	}
	if n := e.srv.SFTPSessions.Load(); n != 1 {
		t.Errorf("%d sftp subsystem requests, want 1 (the fallback is remembered)", n)
	}
}
