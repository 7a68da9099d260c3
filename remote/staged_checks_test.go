package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stagedFiles writes n staged files into dir, modes alternating 0640 and
// 0755, owned by the current user, and returns them with their sums.
func stagedFiles(t *testing.T, dir string, n int) []File {
	t.Helper()
	owner, group := currentOwner(t)
	var files []File
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("file %d", i)) // a space: quoted everywhere
		content := []byte(fmt.Sprintf("content %d\n", i))
		if err := os.WriteFile(p+TempSuffix, content, 0o600); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o640)
		if i%2 == 1 {
			mode = 0o755
		}
		files = append(files, File{Path: p, Mode: mode, Owner: owner, Group: group, SHA256: sum(content)})
	}
	return files
}

// runStaged runs StagedChecks(files) with openssl, sha256sum, chown, chmod and sync
// counted through shims on PATH; it returns their calls and the error.
func runStaged(t *testing.T, files []File) ([]string, []byte, error) {
	t.Helper()
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	for _, name := range []string{"openssl", "sha256sum", "chown", "chmod", "sync"} {
		real, err := exec.LookPath(name)
		if err != nil && name == "openssl" {
			continue // StagedChecks uses sha256sum alone
		}
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\necho "+name+" >> '"+calls+"'\nexec "+real+" \"$@\"\n"), 0o755)
	}
	cmd := exec.Command("sh", "-c", StagedChecks(files))
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	b, _ := os.ReadFile(calls)
	return strings.Fields(string(b)), []byte(stderr.String()), err
}

// Every staged file checked, owned and moded in a handful of processes, not
// five per file.
func TestStagedChecksFewProcesses(t *testing.T) {
	dir := t.TempDir()
	files := stagedFiles(t, dir, 6)
	calls, stderr, err := runStaged(t, files)
	if err != nil {
		t.Fatalf("StagedChecks: %v %s", err, stderr)
	}
	for _, f := range files {
		st, err := os.Stat(f.Path + TempSuffix)
		if err != nil || st.Mode().Perm() != f.Mode {
			t.Errorf("%s: mode %v (%v), want %v", f.Path, st.Mode().Perm(), err, f.Mode)
		}
	}
	// openssl or sha256sum, chown (one owner), chmod (two modes), sync.
	if len(calls) > 5 {
		t.Errorf("%d processes for 6 files (%v), want at most 5", len(calls), calls)
	}
}

// A file whose sum does not match is refused as StagedCheck refuses it:
// exit status exitMismatch, its temporary file gone; so is a link planted
// in place of a temporary file, never followed by chown or chmod.
func TestStagedChecksRefuse(t *testing.T) {
	t.Run("changed content", func(t *testing.T) {
		dir := t.TempDir()
		files := stagedFiles(t, dir, 3)
		os.WriteFile(files[1].Path+TempSuffix, []byte("tampered\n"), 0o600)
		_, stderr, err := runStaged(t, files)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitMismatch || !strings.Contains(string(stderr), "incomplete upload, nothing installed") {
			t.Fatalf("StagedChecks of a changed file: %v %s, want exit status %d", err, stderr, exitMismatch)
		}
		if _, err := os.Lstat(files[1].Path + TempSuffix); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the changed file stays (lstat: %v)", err)
		}
	})
	t.Run("planted link", func(t *testing.T) {
		dir := t.TempDir()
		files := stagedFiles(t, dir, 2)
		victim := filepath.Join(dir, "victim")
		os.WriteFile(victim, []byte("content 1\n"), 0o600) // the sum matches through the link
		os.Remove(files[1].Path + TempSuffix)
		if err := os.Symlink(victim, files[1].Path+TempSuffix); err != nil {
			t.Fatal(err)
		}
		_, stderr, err := runStaged(t, files)
		if err == nil || !strings.Contains(string(stderr), "is not the uploaded file") {
			t.Fatalf("StagedChecks with a link in place: %v %s", err, stderr)
		}
		if st, _ := os.Stat(victim); st.Mode().Perm() != 0o600 {
			t.Errorf("the link's target was chmod'ed to %o", st.Mode().Perm())
		}
	})
}

// StagedFlush flushes the temporary files in the background and
// StagedFlushed waits for it; it flushes nothing through a link planted in
// place of a temporary file (the checks refuse that file after it), and a
// script that started no flush flushes when it waits.
func TestStagedFlushInTheBackground(t *testing.T) {
	run := func(t *testing.T, script string) []string {
		t.Helper()
		dir := t.TempDir()
		calls := filepath.Join(dir, "calls")
		real, err := exec.LookPath("sync")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "sync"), []byte("#!/bin/sh\necho \"$#\" >> '"+calls+"'\nexec "+real+" \"$@\"\n"), 0o755)
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		b, _ := os.ReadFile(calls)
		return strings.Fields(string(b))
	}
	t.Run("plain files", func(t *testing.T) {
		files := stagedFiles(t, t.TempDir(), 3)
		// one sync, of the three files (and its "--")
		if got := run(t, StagedFlush(files)+"\n"+StagedFlushed(files)); len(got) != 1 || got[0] != "4" {
			t.Errorf("sync calls (their argument counts): %v, want one of 4", got)
		}
	})
	t.Run("planted link", func(t *testing.T) {
		dir := t.TempDir()
		files := stagedFiles(t, dir, 2)
		os.Remove(files[1].Path + TempSuffix)
		if err := os.Symlink(filepath.Join(dir, "elsewhere"), files[1].Path+TempSuffix); err != nil {
			t.Fatal(err)
		}
		if got := run(t, StagedFlush(files)+"\n"+StagedFlushed(files)); len(got) != 0 {
			t.Errorf("sync ran (%v) with a link in place of a temporary file", got)
		}
	})
	t.Run("no flush started", func(t *testing.T) {
		files := stagedFiles(t, t.TempDir(), 2)
		if got := run(t, StagedFlushed(files)); len(got) != 1 || got[0] != "3" {
			t.Errorf("sync calls: %v, want one of 3 when no flush was started", got)
		}
	})
}
