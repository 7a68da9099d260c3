package provision

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The swap hashes the new binary (for the sums stamp and the marker) before
// it stops the unit, not while the node is down; the stamp then names the
// swapped file's sum.
func TestSwapHashesBeforeTheStop(t *testing.T) {
	h := newPhaseHost(t)
	h.installed(t)
	os.WriteFile(h.s.Inv.NATS.Binary, []byte(fakeNATSServer+"# v2\n"), 0o755)
	p := h.plan(t)
	if !p.Upgrade {
		t.Fatalf("plan: upgrade %v, changes %v", p.Upgrade, p.Summary())
	}
	if log, err := h.run(t, p, installPhases()...); err != nil {
		t.Fatalf("install: %v\n%s", err, log)
	}
	// Hashers that log their calls where systemctl logs its own.
	for _, name := range []string{"openssl", "sha256sum"} {
		real, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		h.srv.Command(t, name, "#!/bin/sh\necho hash "+name+" >> \"$(dirname \"$0\")/systemctl.log\"\nexec "+real+" \"$@\"\n")
	}
	os.Remove(h.bin + "/systemctl.log")
	if log, err := h.run(t, p, swapBinary{}); err != nil {
		t.Fatalf("swap: %v\n%s", err, log)
	}
	calls := strings.Split(strings.TrimSpace(h.systemctlLog(t)), "\n")
	hashed, stopped := -1, -1
	for i, c := range calls {
		switch {
		case strings.HasPrefix(c, "hash ") && hashed < 0:
			hashed = i
		case strings.HasPrefix(c, "hash "):
			t.Errorf("hashed again (%q) in %q", c, calls)
		case strings.HasPrefix(c, "stop ") && stopped < 0:
			stopped = i
		}
	}
	if hashed < 0 || stopped < 0 || hashed > stopped {
		t.Fatalf("calls %q: want the hash before the stop", calls)
	}
	b, err := os.ReadFile(h.s.Inv.NATS.InstallPath)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(b)
	sum := hex.EncodeToString(d[:])
	stamp, _ := os.ReadFile(sumsPath(h.s.Inv))
	if !strings.Contains(string(stamp), " "+sum+" "+h.s.Inv.NATS.InstallPath+"\n") {
		t.Errorf("sums stamp %q lacks the swapped binary's sum %s", stamp, sum)
	}
}
