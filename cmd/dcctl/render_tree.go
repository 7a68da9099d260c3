package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// renderTree is the output directory of `dcctl render`. The files hold
// password hashes and, on leaf nodes, plaintext passwords: they are written
// 0600 in 0700 directories, and never through a symbolic link, so that a link
// planted in a shared directory cannot send them, or their modes, elsewhere.
type renderTree struct {
	dir  string
	root *os.Root // confines every write below dir, whatever links appear
}

func openRenderTree(dir string) (*renderTree, error) {
	if st, err := os.Lstat(dir); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("render: --out %s is a symbolic link: name the directory itself", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return &renderTree{dir: dir, root: root}, nil
}

func (t *renderTree) Close() error { return t.root.Close() }

// check refuses a file path (slash-separated, relative to the tree) whose
// directories include a symbolic link or a non-directory, before anything is
// written.
func (t *renderTree) check(rel string) error {
	return t.walkDirs(rel, false)
}

// write puts content at rel with mode: directories are created 0700 (and
// tightened to 0700 if they exist), the file goes to a temp name first and is
// renamed over rel, which replaces a link at rel instead of writing through it.
func (t *renderTree) write(rel string, content []byte, mode os.FileMode) error {
	if err := t.walkDirs(rel, true); err != nil {
		return err
	}
	tmp := rel + ".dcctl-tmp"
	// A leftover of an interrupted run; Remove takes a link away, not its target.
	if err := t.root.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("render %s: %w", t.show(tmp), err)
	}
	f, err := t.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("render %s: %w", t.show(rel), err)
	}
	_, err = f.Write(content)
	if err == nil {
		err = f.Chmod(mode) // on the open file: no name to race for
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = t.root.Rename(tmp, rel)
	}
	if err != nil {
		t.root.Remove(tmp)
		return fmt.Errorf("render %s: %w", t.show(rel), err)
	}
	return nil
}

// walkDirs checks each directory above rel; with create, it makes missing
// ones and tightens existing ones to 0700.
func (t *renderTree) walkDirs(rel string, create bool) error {
	parts := strings.Split(rel, "/")
	cur := ""
	for _, p := range parts[:len(parts)-1] {
		cur = path.Join(cur, p)
		st, err := t.root.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if !create {
				return nil // nothing below exists either
			}
			if err := t.root.Mkdir(cur, 0o700); err != nil {
				return fmt.Errorf("render %s: %w", t.show(cur), err)
			}
		case err != nil:
			return fmt.Errorf("render %s: %w", t.show(cur), err)
		case st.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("render: %s is a symbolic link: refusing to write through it (remove it, or render into another directory)", t.show(cur))
		case !st.IsDir():
			return fmt.Errorf("render: %s is in the way: not a directory", t.show(cur))
		case create && st.Mode().Perm() != 0o700:
			if err := t.root.Chmod(cur, 0o700); err != nil {
				return fmt.Errorf("render %s: %w", t.show(cur), err)
			}
		}
	}
	return nil
}

func (t *renderTree) show(rel string) string { return filepath.Join(t.dir, filepath.FromSlash(rel)) }
