package remote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/pkg/sftp"
)

// A staged upload over SFTP can do in the sftp-server already running for
// it what the caller's script would otherwise start a program for: set the
// file's owner and mode, and flush it to disk (unless File.FlushLater:
// provision flushes in its checks' script, beside them). Each is done on the open
// file, before it is closed, so on the upload itself and never through a
// link planted at its temporary name; the sum is still checked on the host
// by the caller's script before anything renames the file. Each step that
// cannot be done here (no such extension, a name the host's /etc files do
// not list, a refusal) is left to the script, as over exec.

// Staged says what Stage did on the host besides the write.
type Staged struct {
	// Settled: the file has its owner, group and mode (set in that order,
	// as chown then chmod): File.Settled tells StagedChecks to leave them.
	Settled bool
	// Flushed: the file's content is on disk (fsync@openssh.com): the
	// caller's flush before its renames can leave it out.
	Flushed bool
}

// Stage uploads f to its temporary name beside f.Path, as Put does with
// f.Stage set, and says what else it did there.
func (c *Client) Stage(ctx context.Context, f File, progress func(written int64)) (Staged, error) {
	f.Stage = true
	return c.put(ctx, f, progress)
}

// extFsync and extPosixRename are the OpenSSH extensions used here.
const (
	extFsync       = "fsync@openssh.com"
	extPosixRename = "posix-rename@openssh.com"
)

// hasExt says whether the server announced version 1 of ext.
func hasExt(sc *sftp.Client, ext string) bool {
	v, ok := sc.HasExtension(ext)
	return ok && v == "1"
}

// settleOpen sets f's owner and mode on fh and flushes it (unless
// f.FlushLater), where the server can.
func (c *Client) settleOpen(sc *sftp.Client, fh *sftp.File, f File) Staged {
	var st Staged
	if uid, gid, ok := c.sftpIDs(sc, f.Owner, f.Group); ok {
		err := error(nil)
		if uid >= 0 {
			err = fh.Chown(uid, gid)
		}
		if err == nil {
			err = fh.Chmod(f.Mode)
		}
		st.Settled = err == nil
	}
	if !f.FlushLater && hasExt(sc, extFsync) {
		st.Flushed = fh.Sync() == nil
	}
	return st
}

// sftpIDs resolves owner and group by the host's /etc/passwd and
// /etc/group, read over SFTP (no program started). Both empty: uid -1 (the
// owner stays), ok. One of them empty, or a name the files do not list (a
// directory service's): not ok, the script's chown resolves it. A name
// not found is looked up again in a fresh read: the prepare script may
// have created the user since.
func (c *Client) sftpIDs(sc *sftp.Client, owner, group string) (uid, gid int, ok bool) {
	if owner == "" && group == "" {
		return -1, -1, true
	}
	if owner == "" || group == "" {
		return 0, 0, false
	}
	s := &c.sftp
	s.idsMu.Lock()
	defer s.idsMu.Unlock()
	for fresh := false; ; fresh = true {
		if fresh || s.users == nil {
			users, err1 := readIDs(sc, "/etc/passwd", 2)
			groups, err2 := readIDs(sc, "/etc/group", 2)
			if err1 != nil || err2 != nil {
				return 0, 0, false
			}
			s.users, s.groups = users, groups
		}
		u, uok := s.users[owner]
		g, gok := s.groups[group]
		if uok && gok {
			return u, g, true
		}
		if fresh {
			return 0, 0, false
		}
	}
}

// readIDs reads a colon-separated database (/etc/passwd, /etc/group) into
// name → the numeric field at index field.
func readIDs(sc *sftp.Client, file string, field int) (map[string]int, error) {
	fh, err := sc.Open(file)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	out := map[string]int{}
	r := bufio.NewScanner(io.LimitReader(fh, 16<<20))
	r.Buffer(make([]byte, 64<<10), 1<<20)
	for r.Scan() {
		f := strings.Split(r.Text(), ":")
		if len(f) <= field || f[0] == "" || strings.HasPrefix(f[0], "+") || strings.HasPrefix(f[0], "-") {
			continue
		}
		id, err := strconv.Atoi(f[field])
		if err != nil || id < 0 {
			continue
		}
		if _, seen := out[f[0]]; !seen { // the first entry wins, as for getpwnam
			out[f[0]] = id
		}
	}
	return out, r.Err()
}

// CanRename says whether Rename can work: the client's SFTP session is open
// (an upload opened it; this does not) and its server renames over an
// existing file (posix-rename@openssh.com; plain SFTP rename refuses to).
func (c *Client) CanRename() bool {
	s := &c.sftp
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client != nil && hasExt(s.client, extPosixRename)
}

// Rename renames from to to on the host, replacing to atomically, over the
// SFTP session: no program is started. It is not cut short by ctx (a rename
// takes microseconds, and a caller renaming several files must not stop
// between two); a session lost fails it.
func (c *Client) Rename(ctx context.Context, from, to string) error {
	s := &c.sftp
	s.mu.Lock()
	sc := s.client
	s.mu.Unlock()
	if sc == nil || !hasExt(sc, extPosixRename) {
		return fmt.Errorf("rename %s to %s on %s: %w", from, to, c.name, errNoRename)
	}
	if err := sc.PosixRename(from, to); err != nil {
		return c.explain(fmt.Errorf("rename %s to %s on %s over sftp: %w", from, to, c.name, err))
	}
	return nil
}

var errNoRename = errors.New("no sftp session with posix-rename@openssh.com")

// parentIsDir says whether dir's parent is a directory on the host.
func (c *Client) parentIsDir(sc *sftp.Client, dir string) bool {
	st, err := sc.Stat(path.Dir(dir))
	return err == nil && st.IsDir()
}

// OverSFTP says whether the client transfers over SFTP (not exec, and the
// host was not found to have no sftp-server).
func (c *Client) OverSFTP() bool {
	s := &c.sftp
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.transfer == TransferSFTP && !s.fallback
}

// MkdirOwned does over the SFTP session what `install -d -m mode -o owner
// -g group dir` does: makes dir unless
// it is there (a link to a directory counts, as for install), then sets
// its owner and group, then its mode; no program is started. It returns
// false and does nothing when it cannot (over exec, no sftp-server, a
// name the host's /etc files do not list, a parent missing: install -d
// makes parents too): the caller runs the program.
func (c *Client) MkdirOwned(ctx context.Context, dir string, mode os.FileMode, owner, group string) (bool, error) {
	if !c.OverSFTP() {
		return false, nil
	}
	sc, err := c.sftpClient(ctx)
	if err != nil || sc == nil {
		return false, err
	}
	uid, gid, ok := c.sftpIDs(sc, owner, group)
	if !ok {
		return false, nil
	}
	fail := func(what string, err error) (bool, error) {
		return true, c.explain(fmt.Errorf("%s directory %s on %s over sftp: %w", what, dir, c.name, err))
	}
	st, err := sc.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := sc.Mkdir(dir); err != nil {
			st, err2 := sc.Stat(dir)
			switch {
			case err2 == nil && st.IsDir():
				// made meanwhile by another
			case errors.Is(err2, fs.ErrNotExist) && !c.parentIsDir(sc, dir):
				return false, nil // install -d makes the parents too
			default:
				return fail("create", err)
			}
		}
	} else if err != nil {
		return fail("stat", err)
	} else if !st.IsDir() {
		return fail("create", fmt.Errorf("%s exists and is not a directory", dir))
	}
	if uid >= 0 {
		if err := sc.Chown(dir, uid, gid); err != nil {
			return fail("chown", err)
		}
	}
	if err := sc.Chmod(dir, mode); err != nil {
		return fail("chmod", err)
	}
	return true, nil
}
