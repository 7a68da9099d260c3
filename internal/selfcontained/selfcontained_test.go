package selfcontained

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// outside are the ways a file cites a document outside the repository: the
// team's design notes by section or by path, or the document the example
// topology was first described in. They are built from pieces so
// that this file does not match itself.
var outside = []string{
	"DESIGN " + "§",
	"../" + "shared",
	"shared/" + "DESIGN",
	"/work/" + "shared",
	"seed " + "document",
	"reference " + "document",
}

// TestNoCitationOutsideRepository reads every file git knows (tracked, or new
// and not ignored) and fails on each one that cites a document outside the
// repository.
func TestNoCitationOutsideRepository(t *testing.T) {
	root, files := repoFiles(t)
	if len(files) < 50 {
		t.Fatalf("git lists only %d files under %s: not the dcctl repository?", len(files), root)
	}
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range bytes.Split(data, []byte("\n")) {
			for _, o := range outside {
				if bytes.Contains(line, []byte(o)) {
					t.Errorf("%s:%d cites %q, a document outside the repository: state the fact in place or in docs/ (docs/nats-facts.md for NATS's behaviour)", name, i+1, o)
				}
			}
		}
	}
}

// TestDetectsCitation keeps the check honest: a line citing the design notes
// must be found.
func TestDetectsCitation(t *testing.T) {
	for _, line := range []string{
		"// leaders take seconds (DESIGN " + "§7).",
		"see " + strings.Join([]string{"..", "sha" + "red", "DESIGN.md"}, "/"),
	} {
		found := false
		for _, o := range outside {
			found = found || strings.Contains(line, o)
		}
		if !found {
			t.Errorf("%q is not recognised as a citation outside the repository", line)
		}
	}
}

// repoFiles returns the repository's top directory and the files git lists
// there: tracked ones and new ones that are not ignored.
func repoFiles(t *testing.T) (string, []string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed: cannot list the repository's files")
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git work tree (%v): nothing to list", err)
	}
	root := strings.TrimSpace(string(top))
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files in %s: %v", root, err)
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return root, files
}
