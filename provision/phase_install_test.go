package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The install stamps every file it installs with one stat, not one each.
func TestPhaseInstallStampsWithOneStat(t *testing.T) {
	h := newPhaseHost(t)
	real, err := exec.LookPath("stat")
	if err != nil {
		t.Fatal(err)
	}
	calls := filepath.Join(t.TempDir(), "calls")
	p := h.plan(t)
	h.srv.Command(t, "stat", "#!/bin/sh\necho stat >> "+shellQuote(calls)+"\nexec "+real+" \"$@\"\n")
	if log, err := h.run(t, p, installPhases()...); err != nil {
		t.Fatalf("install: %v\n%s", err, log)
	}
	b, _ := os.ReadFile(calls)
	if n := strings.Count(string(b), "stat\n"); n != 1 {
		t.Errorf("the install ran stat %d times, want once", n)
	}
	if q := h.plan(t); len(q.Files) > 0 {
		t.Errorf("plan after the install changes files: %v", q.Summary())
	}
	stamp, _ := os.ReadFile(sumsPath(h.s.Inv))
	for _, fc := range p.Files {
		if !strings.Contains(string(stamp), " "+fc.File.SHA256+" "+fc.File.Path+"\n") {
			t.Errorf("stamp lacks %s:\n%s", fc.File.Path, stamp)
		}
	}
}
