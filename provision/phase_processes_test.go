package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestInstallStartsFewProcesses: a fresh host's install script (verify the
// uploads, --version, nats-server -t on the staged config, renames, enable)
// starts only the programs its checks need, counted through shims on the
// PATH of the in-process sshd's commands: no head to cut --version's first
// line, no copies of the TLS files for -t (the copied config names the
// verified uploads), one sed for the copies, no removal of a check
// directory that is not there. Over SFTP to a server that has
// fsync@openssh.com and posix-rename@openssh.com (OpenSSH's), the owners,
// modes and renames are done in the sftp-server: no chown, chmod, nor an
// mv per file (the sums stamp's is left), nor `install -d` for the owned
// directories; the flush is one `sync` of every upload, beside the checks. Every fresh host runs this script, and on hosts
// that share CPUs each process is time.
func TestInstallStartsFewProcesses(t *testing.T) {
	h := newPhaseHost(t)
	h.srv.SFTPFsync.Store(true)
	log := filepath.Join(t.TempDir(), "calls")
	for _, name := range []string{"head", "cp", "sed", "rm", "install", "mv", "chown", "chmod", "sync", "timeout", "stat", "awk", "openssl", "sha256sum"} {
		real, err := exec.LookPath(name)
		if err != nil {
			t.Skipf("no %s here: %v", name, err)
		}
		h.srv.Command(t, name, "#!/bin/sh\necho "+name+" >> "+log+"\nexec "+real+" \"$@\"\n")
	}
	p := h.plan(t)
	if out, err := h.run(t, p, installPhases()...); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	for _, c := range strings.Fields(string(b)) {
		calls[c]++
	}
	t.Logf("programs of a fresh host's install: %v", calls)
	// The check of the new config: one copy (this host is no leaf node: one
	// config), one sed, one rm (the check directory after -t), one install
	// (the check directory), one sync (every upload). Owners, modes, the
	// renames and the owned directories in the sftp-server.
	for name, want := range map[string]int{"head": 0, "cp": 1, "sed": 1, "rm": 1, "install": 1, "chown": 0, "chmod": 0, "sync": 1} {
		if calls[name] != want {
			t.Errorf("%s ran %d times, want %d", name, calls[name], want)
		}
	}
	if calls["mv"] > 1 {
		t.Errorf("mv ran %d times, want 1 at most (the sums stamp)", calls["mv"])
	}
	// The checks kept: the sums (one hasher for every file), -t under
	// timeout; the flush by the script's sync, not the sftp-server's fsyncs.
	if n := h.srv.SFTPFsyncs.Load(); n != 0 {
		t.Errorf("the sftp-server flushed %d files, want none (the script's sync does, beside the checks)", n)
	}
	var missing []string
	for _, name := range []string{"timeout"} {
		if calls[name] == 0 {
			missing = append(missing, name)
		}
	}
	if calls["openssl"]+calls["sha256sum"] == 0 {
		missing = append(missing, "openssl or sha256sum")
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the install ran none of %v", missing)
	}
}
