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
// directory that is not there. Every fresh host runs this script, and on
// hosts that share CPUs each process is time.
func TestInstallStartsFewProcesses(t *testing.T) {
	h := newPhaseHost(t)
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
	// config), one sed, one rm (the check directory after -t).
	for name, want := range map[string]int{"head": 0, "cp": 1, "sed": 1, "rm": 1} {
		if calls[name] != want {
			t.Errorf("%s ran %d times, want %d", name, calls[name], want)
		}
	}
	// The checks kept: the sums (one hasher for every file), --version under
	// timeout, the flush, owners and modes, the renames.
	var missing []string
	for _, name := range []string{"timeout", "sync", "chown", "chmod", "mv"} {
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
