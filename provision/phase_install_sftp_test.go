package provision

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/remote"
)

// countCalls puts shims of names on the sshd's PATH that log each call;
// the returned function counts them.
func countCalls(t *testing.T, h *phaseHost, names ...string) func() map[string]int {
	t.Helper()
	log := filepath.Join(t.TempDir(), "calls")
	for _, name := range names {
		real, err := exec.LookPath(name)
		if err != nil {
			t.Skipf("no %s here: %v", name, err)
		}
		h.srv.Command(t, name, "#!/bin/sh\necho "+name+" >> "+log+"\nexec "+real+" \"$@\"\n")
	}
	return func() map[string]int {
		b, _ := os.ReadFile(log)
		calls := map[string]int{}
		for _, c := range strings.Fields(string(b)) {
			calls[c]++
		}
		return calls
	}
}

// assertInstalled checks that every file of p is in place with the
// plan's content, owner, group and mode, and that no temporary file is left.
func assertInstalled(t *testing.T, p *HostPlan) {
	t.Helper()
	for _, fc := range p.Files {
		f := fc.File
		if f.Kind == "unit" {
			continue
		}
		st, err := os.Lstat(f.Path)
		if err != nil {
			t.Errorf("%s: %v", f.Path, err)
			continue
		}
		sys := st.Sys().(*syscall.Stat_t)
		u, err1 := user.Lookup(f.Owner)
		g, err2 := user.LookupGroup(f.Group)
		if err1 != nil || err2 != nil {
			t.Fatalf("owner %s:%s of %s: %v %v", f.Owner, f.Group, f.Path, err1, err2)
		}
		if st.Mode().Perm() != os.FileMode(f.Mode).Perm() || strconv.Itoa(int(sys.Uid)) != u.Uid || strconv.Itoa(int(sys.Gid)) != g.Gid {
			t.Errorf("%s: mode %o %d:%d, want %o %s:%s", f.Path, st.Mode().Perm(), sys.Uid, sys.Gid, f.Mode, f.Owner, f.Group)
		}
		if f.Kind != "binary" {
			if got, _ := os.ReadFile(f.Path); !bytes.Equal(got, f.Content) {
				t.Errorf("%s holds other content than planned", f.Path)
			}
		}
		noTemps(t, f.Path)
	}
}

// Over SFTP to a server with posix-rename and fsync (OpenSSH's), a fresh
// host's files get their owners and modes (the key 0600 or 0640 among them)
// on the upload's open file and are renamed by the sftp-server: no chown,
// chmod or mv for them on the host; one sync flushes them all, beside the
// checks (TestPhaseInstallChecksRunWhileTheUploadsFlush), not the
// sftp-server's fsyncs before them.
func TestPhaseInstallOverSFTPStartsNoProgramPerFile(t *testing.T) {
	h := newPhaseHost(t)
	h.srv.SFTPFsync.Store(true)
	calls := countCalls(t, h, "chown", "chmod", "sync", "mv")
	p := h.plan(t)
	withoutUnit(p)
	if log, err := h.run(t, p, installPhases()...); err != nil {
		t.Fatalf("install: %v\n%s", err, log)
	}
	assertInstalled(t, p)
	if got := calls(); got["chown"]+got["chmod"] != 0 || got["sync"] != 1 || got["mv"] > 1 {
		t.Errorf("programs of the install: %v, want no chown, chmod, one sync, and one mv at most (the sums stamp)", got)
	}
	if n := h.srv.SFTPFsyncs.Load(); n != 0 {
		t.Errorf("%d fsyncs in the sftp-server, want none", n)
	}
}

// A server without posix-rename@openssh.com: the renames are the script's
// mv, the rest as over SFTP; the script flushes every upload (one sync)
// whether or not the server has fsync@openssh.com. Both install every file
// as planned.
func TestPhaseInstallFallsBackWithoutTheExtension(t *testing.T) {
	for name, set := range map[string]func(h *phaseHost){
		"no posix-rename":           func(h *phaseHost) { h.srv.SFTPFsync.Store(true); h.srv.SFTPNoPosixRename.Store(true) },
		"no posix-rename, no fsync": func(h *phaseHost) { h.srv.SFTPNoPosixRename.Store(true) },
	} {
		t.Run(name, func(t *testing.T) {
			h := newPhaseHost(t)
			set(h)
			calls := countCalls(t, h, "sync", "mv")
			p := h.plan(t)
			withoutUnit(p)
			if log, err := h.run(t, p, installPhases()...); err != nil {
				t.Fatalf("install: %v\n%s", err, log)
			}
			assertInstalled(t, p)
			got := calls()
			if got["mv"] < len(p.Files) {
				t.Errorf("%d mv, want one per file (%d) at least: the script renames", got["mv"], len(p.Files))
			}
			if got["sync"] != 1 {
				t.Errorf("%d sync, want 1: the script flushes every upload", got["sync"])
			}
		})
	}
}

// A rename over SFTP that fails (the upload of the config gone between the
// checks and the renames) fails the install with the file's name; the
// files renamed before it are whole, the config's name holds no new
// content, and the next run installs it.
func TestPhaseInstallFailedRenameOverSFTP(t *testing.T) {
	h := newPhaseHost(t)
	h.srv.SFTPFsync.Store(true)
	p := h.plan(t)
	withoutUnit(p)
	conf := h.path("etc/acme/nats/nats-server.conf")
	gone := runStub{"remove the config's upload", func() error { return os.Remove(conf + remote.TempSuffix) }}
	var phases []phase
	for _, ph := range installPhases() {
		if _, ok := ph.(installFiles); ok {
			phases = append(phases, gone)
		}
		phases = append(phases, ph)
	}
	_, err := h.run(t, p, phases...)
	if err == nil || !strings.Contains(err.Error(), "rename "+conf+remote.TempSuffix) {
		t.Fatalf("install with the config's upload gone: %v", err)
	}
	if _, err := os.Lstat(conf); err == nil {
		t.Errorf("%s exists after its rename failed", conf)
	}
	for _, fc := range p.Files {
		if st, err := os.Stat(fc.File.Path); err == nil && fc.File.Kind != "binary" && st.Size() != int64(len(fc.File.Content)) {
			t.Errorf("%s is %d bytes, want %d: a half-written file under its name", fc.File.Path, st.Size(), len(fc.File.Content))
		}
	}
	p = h.plan(t)
	withoutUnit(p)
	if log, err := h.run(t, p, installPhases()...); err != nil {
		t.Fatalf("the next install: %v\n%s", err, log)
	}
	assertInstalled(t, p)
}

// The owned directories are made over SFTP with their owners and modes (no
// install -d); over exec, and for an owner the host's /etc files do not
// list, by install -d as before. Either way they end as planned.
func TestPhaseOwnDirsOverSFTPOrInstall(t *testing.T) {
	for name, c := range map[string]struct {
		transfer string
		owner    string // "" keeps the plan's
		installs int
	}{
		"sftp":                  {inventory.TransferSFTP, "", 0},
		"sftp, parents missing": {inventory.TransferSFTP, "", 2},
		"exec":                  {inventory.TransferExec, "", 2},
		// the first directory's install -d fails, and the && stops there
		"owner not in /etc": {inventory.TransferSFTP, "dcctl-no-such-user", 1},
	} {
		t.Run(name, func(t *testing.T) {
			h := newPhaseHost(t)
			h.node.SSH.Transfer = c.transfer
			calls := countCalls(t, h, "install")
			p := h.plan(t)
			if len(p.Dirs) != 2 {
				t.Fatalf("plan of a fresh host: %d owned directories, want 2", len(p.Dirs))
			}
			if c.owner != "" {
				// an owner that chown cannot resolve either: the fallback's
				// install -d fails, naming it
				p.Dirs[0].Owner = c.owner
			}
			phases := []phase{createParents{}, ownDirs{}}
			if name == "sftp, parents missing" {
				phases = phases[1:] // install -d makes them
			}
			_, err := h.run(t, p, phases...)
			if c.owner != "" {
				if err == nil || !strings.Contains(err.Error(), c.owner) {
					t.Fatalf("owned directories with owner %s: %v", c.owner, err)
				}
			} else if err != nil {
				t.Fatal(err)
			} else {
				for _, d := range p.Dirs {
					u, _ := user.Lookup(d.Owner)
					g, _ := user.LookupGroup(d.Group)
					uid, _ := strconv.Atoi(u.Uid)
					gid, _ := strconv.Atoi(g.Gid)
					assertDir(t, d.Path, os.FileMode(d.Mode), uint32(uid), uint32(gid))
				}
			}
			if got := calls()["install"]; got != c.installs {
				t.Errorf("install ran %d times, want %d", got, c.installs)
			}
		})
	}
}
