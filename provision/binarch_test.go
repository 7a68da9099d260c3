package provision

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// buildFor compiles a minimal Go program for linux/goarch: a real ELF
// executable of that architecture, as `go build` makes nats-server.
func buildFor(t *testing.T, goarch string) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module tiny\n\ngo 1.21\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	out := filepath.Join(dir, "tiny-"+goarch)
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build for %s: %v\n%s", goarch, err, b)
	}
	return out
}

func TestBinaryTargetOfRealExecutables(t *testing.T) {
	for goarch, uname := range map[string]string{"amd64": "x86_64", "arm64": "aarch64", "arm": "armv7l"} {
		target, err := binaryTarget(buildFor(t, goarch))
		if err != nil {
			t.Fatalf("%s: %v", goarch, err)
		}
		if target.String() != goarch {
			t.Errorf("binary built for %s read as %s", goarch, target)
		}
		if ok, known := target.runsOn(uname); !ok || !known {
			t.Errorf("%s build on a %s host: ok %v known %v, want both", goarch, uname, ok, known)
		}
		for _, other := range []string{"x86_64", "aarch64", "armv7l", "i686", "ppc64le"} {
			if other == uname {
				continue
			}
			if ok, known := target.runsOn(other); ok || !known {
				t.Errorf("%s build on a %s host: ok %v known %v, want a known mismatch", goarch, other, ok, known)
			}
		}
	}
	// An architecture dcctl has no name for is left to the run on the host.
	if _, known := (cpuTarget{}).runsOn("sparc64"); known {
		t.Error("sparc64 treated as known")
	}
}

func TestBinaryTargetRefusesWhatIsNotALinuxExecutable(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "nats-server")
	os.WriteFile(script, []byte("#!/bin/sh\necho v2.15.2\n"), 0o755)
	_, err := binaryTarget(script)
	if err == nil || !strings.Contains(err.Error(), "not a Linux executable") || !strings.Contains(err.Error(), script) {
		t.Fatalf("shell script as nats.binary: got %v, want a refusal naming the file", err)
	}
	if _, err := binaryTarget(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing nats.binary: got %v, want not-exist", err)
	}
}

func TestCheckArchNamesEveryHostAndBothArchitectures(t *testing.T) {
	inv, _, _ := fixture(t, nil)
	target, err := binaryTarget(buildFor(t, "arm64"))
	if err != nil {
		t.Fatal(err)
	}
	facts := map[string]*Facts{}
	for _, n := range inv.Nodes {
		facts[n.Name] = &Facts{Arch: "aarch64"}
	}
	if err := checkArch(inv, target, facts); err != nil {
		t.Fatalf("arm64 binary on aarch64 hosts refused: %v", err)
	}
	a, b := inv.Nodes[0], inv.Nodes[len(inv.Nodes)-1]
	facts[a.Name] = &Facts{Arch: "x86_64"}
	facts[b.Name] = &Facts{Arch: "x86_64"}
	facts[inv.Nodes[1].Name] = nil // unreachable: no facts, nothing to check
	err = checkArch(inv, target, facts)
	var mm *ArchMismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("arm64 binary on x86_64 hosts: got %v, want *ArchMismatchError", err)
	}
	msg := err.Error()
	for _, want := range []string{a.Name, a.Host, b.Name, "x86_64", "arm64", "EM_AARCH64", "GOARCH=amd64", "nothing was changed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	if len(mm.Hosts) != 2 {
		t.Errorf("refused hosts %v, want exactly %s and %s", mm.Hosts, a.Name, b.Name)
	}
}
