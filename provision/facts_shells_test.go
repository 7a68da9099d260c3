package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// shells are the POSIX shells a host may run dcctl's scripts in: Debian's
// dash as /bin/sh, and bash.
func shells(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, sh := range []string{"dash", "bash"} {
		if p, err := exec.LookPath(sh); err == nil {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Skip("neither dash nor bash here")
	}
	return out
}

// TestFactsScriptInDashAndBash: the facts script reads the sums stamp and
// the applied marker (a quote in a path, no final newline) the same way
// in dash and in bash: every installed file with its stamped sha256, every
// applied line.
func TestFactsScriptInDashAndBash(t *testing.T) {
	dir := t.TempDir()
	sums, marker := filepath.Join(dir, ".dcctl-sums"), filepath.Join(dir, ".dcctl-applied")
	var stamp strings.Builder
	var files []string
	for _, name := range []string{"nats-server", "it's.conf"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(name+"\n"), 0o640)
		sig, err := exec.Command("stat", "-c", statSignature, p).Output()
		if err != nil {
			t.Fatal(err)
		}
		// The stamped sum is not the content's: the facts take it from the
		// stamp, not from hashing the file.
		stamp.WriteString(strings.TrimSpace(string(sig)) + " " + strings.Repeat(name[:1], 64) + " " + p + "\n")
		files = append(files, p)
	}
	os.WriteFile(sums, []byte(stamp.String()), 0o644)
	os.WriteFile(marker, []byte(strings.Repeat("a", 64)+" "+files[0]+"\n"+strings.Repeat("b", 64)+" "+files[1]), 0o640)

	var first *Facts
	for _, sh := range shells(t) {
		out, err := exec.Command(sh, "-c", factsScript("root", "dcctl-test-no-such-unit", marker, sums, filepath.Join(dir, "stopped"), files, []string{dir})).Output()
		if err != nil {
			t.Fatalf("%s: facts script: %v", sh, err)
		}
		f, err := parseFacts(string(out))
		if err != nil {
			t.Fatalf("%s: %v\n%s", sh, err, out)
		}
		for _, p := range files {
			if want := strings.Repeat(filepath.Base(p)[:1], 64); f.Files[p].SHA256 != want {
				t.Errorf("%s: %s has sha256 %q, want the stamp's %q", sh, p, f.Files[p].SHA256, want)
			}
		}
		if f.Applied[files[0]] != strings.Repeat("a", 64) || f.Applied[files[1]] != strings.Repeat("b", 64) {
			t.Errorf("%s: applied %v, want both lines of the marker", sh, f.Applied)
		}
		// Each shell's run reads the clock at its own moment.
		if f.Clock.IsZero() {
			t.Errorf("%s: no host clock in the facts:\n%s", sh, out)
		}
		f.Clock = time.Time{}
		if first == nil {
			first = f
		} else if !reflect.DeepEqual(f, first) {
			t.Errorf("%s: facts %+v, another shell's %+v", sh, f, first)
		}
	}
}
