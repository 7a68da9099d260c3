package remote

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Staged over SFTP, a file gets its owner and mode on the open file and is
// flushed by the server's fsync when it has fsync@openssh.com; StagedChecks
// then starts no chown or chmod for it, and Rename puts it in place over
// the old file without a program on the host.
func TestStageSettlesFlushesAndRenamesOverSFTP(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: sets owners")
	}
	e := newTestEnv(t)
	e.srv.SFTPFsync.Store(true)
	c := e.dial(t)
	path := filepath.Join(e.dir, "key.pem")
	os.WriteFile(path, []byte("old"), 0o600)
	content := []byte("secret key\n")
	st, err := c.Stage(t.Context(), File{Path: path, Mode: 0o640, Owner: "root", Group: "daemon", SHA256: sum(content), Content: bytes.NewReader(content)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Settled || !st.Flushed {
		t.Fatalf("staged %+v, want settled and flushed", st)
	}
	if e.srv.SFTPFsyncs.Load() != 1 {
		t.Errorf("%d fsyncs, want 1", e.srv.SFTPFsyncs.Load())
	}
	info, err := os.Lstat(path + TempSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if sys := info.Sys().(*syscall.Stat_t); info.Mode().Perm() != 0o640 || sys.Uid != 0 || sys.Gid != 1 {
		t.Errorf("staged file: mode %o %d:%d, want 640 0:1", info.Mode().Perm(), sys.Uid, sys.Gid)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("the target changed before its rename: %q", got)
	}
	if !c.CanRename() {
		t.Fatal("CanRename is false with posix-rename@openssh.com")
	}
	if err := c.Rename(t.Context(), path+TempSuffix, path); err != nil {
		t.Fatal(err)
	}
	assertFile(t, path, content)
	if _, err := os.Lstat(path + TempSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary file left: %v", err)
	}
}

// Without fsync@openssh.com the staged file is not flushed by the server;
// with an owner the host's /etc files do not list, nor settled (the
// script's chown resolves it); without posix-rename@openssh.com, Rename
// cannot be used.
func TestStageLeavesToTheScriptWhatTheServerCannot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: sets owners")
	}
	e := newTestEnv(t)
	e.srv.SFTPNoPosixRename.Store(true)
	c := e.dial(t)
	path := filepath.Join(e.dir, "conf")
	content := []byte("conf\n")
	st, err := c.Stage(t.Context(), File{Path: path, Mode: 0o644, Owner: "root", Group: "dcctl-no-such-group", SHA256: sum(content), Content: bytes.NewReader(content)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Settled || st.Flushed {
		t.Errorf("staged %+v, want neither settled nor flushed", st)
	}
	if info, err := os.Lstat(path + TempSuffix); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("staged file unsettled: %v, %v; want it private (600) for the script", info, err)
	}
	if c.CanRename() {
		t.Error("CanRename is true without posix-rename@openssh.com")
	}
	if err := c.Rename(t.Context(), path+TempSuffix, path); err == nil {
		t.Error("Rename without posix-rename@openssh.com succeeded")
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("target exists: %v", err)
	}
}

// Over exec, Stage does nothing besides the write: the script does the rest.
func TestStageOverExecLeavesAllToTheScript(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t, func(cfg *Config) { cfg.Transfer = TransferExec })
	path := filepath.Join(e.dir, "conf")
	content := []byte("conf\n")
	st, err := c.Stage(t.Context(), File{Path: path, Mode: 0o644, SHA256: sum(content), Content: bytes.NewReader(content)}, nil)
	if err != nil || st != (Staged{}) {
		t.Fatalf("Stage over exec: %+v, %v", st, err)
	}
	if c.CanRename() {
		t.Error("CanRename over exec")
	}
}

// FlushLater leaves the flush to the caller's script even where the server
// has fsync@openssh.com; owner and mode are still set on the open file.
func TestStageFlushLaterLeavesTheFlushToTheScript(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: sets owners")
	}
	e := newTestEnv(t)
	e.srv.SFTPFsync.Store(true)
	c := e.dial(t)
	path := filepath.Join(e.dir, "nats-server")
	content := randomBytes(t, 1<<20)
	st, err := c.Stage(t.Context(), File{Path: path, Mode: 0o755, Owner: "root", Group: "root", SHA256: sum(content), Content: bytes.NewReader(content), FlushLater: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Settled || st.Flushed {
		t.Fatalf("staged %+v, want settled and not flushed", st)
	}
	if n := e.srv.SFTPFsyncs.Load(); n != 0 {
		t.Errorf("%d fsyncs in the sftp-server, want none", n)
	}
	assertFile(t, path+TempSuffix, content)
}
