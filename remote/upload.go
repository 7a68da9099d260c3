package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"sync"
)

// TempSuffix is appended to a file's path while it is being uploaded.
const TempSuffix = ".dcctl-tmp"

// File is one file to install on a host.
type File struct {
	Path    string      // absolute path on the host
	Mode    os.FileMode // permission bits (and setuid/setgid/sticky)
	Owner   string      // user name; "" keeps the uploading user
	Group   string      // group name; "" keeps the default group
	Content io.Reader   // read once, streamed: never held in memory by Put
	// SHA256 is the hex sha256 of Content. The host checks what it received
	// against it before installing anything. When empty, Content must be an
	// io.ReadSeeker: Put reads it once to hash it, then seeks back.
	SHA256 string
	// Hashed says that SHA256 was computed from Content's very bytes, which
	// cannot change (an in-memory copy): Put sends them without hashing
	// them again on this machine. The host checks them all the same. A
	// caller sending one content to many hosts hashes it once, not once
	// per host.
	Hashed bool
	// Size, when > 0, is Content's length; a different length fails the
	// upload (the sha256 check would too, but could not say why).
	Size int64
	// Check, when not nil, runs the received file on the host with these
	// arguments (e.g. "--version") once its owner and mode are set and
	// before it replaces the old file: a program that cannot run there (built
	// for another architecture, a noexec mount) never replaces a working one.
	// A non-zero exit, or none within CheckTimeout, fails the Put with
	// ErrCheckFailed; the old file stays.
	Check []string
	// Stage, when set, leaves the content at Path+TempSuffix instead of
	// installing it: the caller installs several files at once, in one
	// script of its own that first runs StagedCheck (or StagedChecks) for
	// each. Until then nothing but the write runs on the host (over exec,
	// a `cat` into the temporary file; the content's sha256 was checked
	// here as it was sent, unless Hashed): the host hashes each file once,
	// in the caller's check. A staged file never installed is a leftover
	// temporary file for the next run to remove.
	Stage bool
	// Settled says that a staged file already has its owner and mode
	// (Staged.Settled): StagedChecks starts no chown or chmod for it.
	Settled bool
	// FlushLater leaves a staged upload's flush to the caller's script
	// (StagedFlush beside its checks, StagedFlushed before its renames)
	// even where the sftp-server could flush it: there the flush would run
	// before the checks, not beside them (a 24 MB binary's took 0.4-1 s on
	// a busy disk), and each file's fsync is one more request behind the
	// other uploads' writes.
	FlushLater bool
}

// ErrCheckFailed is wrapped by Put's error when File.Check failed on the host.
var ErrCheckFailed = errors.New("the new file does not run on the host")

// CheckTimeout bounds File.Check's run on the host: a program of the wrong
// kind may wait for input forever.
const CheckTimeout = 60

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Put installs f atomically: the content goes to <path>.dcctl-tmp, the host
// checks its sha256, sets owner and mode, and renames it over <path>. On any
// failure, including the connection dropping midway, the script on the host
// removes the temporary file and the old file stays as it was. A temporary
// file left by an earlier run (a host crash) is replaced. The parent
// directory must exist. progress, if not nil, is called with the bytes sent
// so far, from another goroutine.
func (c *Client) Put(ctx context.Context, f File, progress func(written int64)) error {
	_, err := c.put(ctx, f, progress)
	return err
}

func (c *Client) put(ctx context.Context, f File, progress func(written int64)) (Staged, error) {
	if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path {
		return Staged{}, fmt.Errorf("upload to %s: path %q must be absolute and clean", c.name, f.Path)
	}
	want := strings.ToLower(f.SHA256)
	if want == "" {
		sum, err := hashSeeker(f.Content)
		if err != nil {
			return Staged{}, fmt.Errorf("upload %s to %s: %w", f.Path, c.name, err)
		}
		want = sum
	}
	if !sha256Hex.MatchString(want) {
		return Staged{}, fmt.Errorf("upload %s to %s: SHA256 %q is not 64 hex digits", f.Path, c.name, f.SHA256)
	}

	if c.transfer == TransferSFTP {
		sc, err := c.sftpClient(ctx)
		if err != nil {
			return Staged{}, fmt.Errorf("upload %s to %s: %w", f.Path, c.name, err)
		}
		if sc != nil {
			return c.putSFTP(ctx, sc, f, want, progress)
		}
	}
	src := newUploadReader(f, want, progress)
	_, _, err := c.run(ctx, "install "+f.Path, installScript(f, want, true), src)
	n, sum, eof, readErr := src.stop()
	if readErr != nil {
		return Staged{}, fmt.Errorf("upload %s to %s: read content: %w", f.Path, c.name, readErr)
	}
	if err == nil && f.Stage && ((f.Size > 0 && n != f.Size) || sum != want) {
		// Staged, the host has not hashed it yet: what was sent is known
		// here, and a content that is not what the caller promised is
		// refused now, as over SFTP.
		_, _, _ = c.run(ctx, "remove "+f.Path+TempSuffix, "rm -f -- "+shellQuote(f.Path+TempSuffix), nil)
		err = &ExitError{Host: c.name, Code: exitMismatch}
	}
	if err == nil {
		return Staged{}, nil
	}
	return Staged{}, c.installError(f, want, err, n, sum, eof)
}

// installError explains the install script's failure. n, sum and eof say
// what was read from the content.
func (c *Client) installError(f File, want string, err error, n int64, sum string, eof bool) error {
	var exitErr *ExitError
	if errors.As(err, &exitErr) && exitErr.Code == exitCheck {
		return fmt.Errorf("upload %s to %s: %w (%s); the installed file stays", f.Path, c.name, ErrCheckFailed, strings.TrimSpace(string(exitErr.Stderr)))
	}
	if errors.As(err, &exitErr) && exitErr.Code == exitMismatch && eof {
		// The host received all we read, so the cause is local: say which.
		switch {
		case f.Size > 0 && n != f.Size:
			return fmt.Errorf("upload %s to %s: content is %d bytes, File.Size says %d; nothing installed", f.Path, c.name, n, f.Size)
		case sum != want:
			return fmt.Errorf("upload %s to %s: content has sha256 %s, File.SHA256 says %s; nothing installed", f.Path, c.name, sum, want)
		}
	}
	return fmt.Errorf("upload %s to %s: %w", f.Path, c.name, err)
}

// exitMismatch is the install script's status when the received content's
// sha256 is not the expected one.
const exitMismatch = 65

// exitCheck is the install script's status when File.Check failed.
const exitCheck = 66

// installScript reads the content on stdin into the temporary file, or, when
// fromStdin is false, finds it there already (sent over SFTP). Its EXIT trap
// removes the temporary file whatever happens (after the rename it no longer
// exists), and the signal traps turn SIGTERM (a cancelled Put), SIGHUP and
// SIGPIPE (the connection gone) into an exit that runs it.
func installScript(f File, sum string, fromStdin bool) string {
	owner := f.Owner
	if f.Group != "" {
		owner += ":" + f.Group
	}
	var b strings.Builder
	fmt.Fprintf(&b, "p=%s; t=%s\n", shellQuote(f.Path), shellQuote(f.Path+TempSuffix))
	b.WriteString(`trap 'rm -f -- "$t"' EXIT
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 141' PIPE; trap 'exit 143' TERM
if [ -d "$p" ] && [ ! -L "$p" ]; then echo "$p is a directory" >&2; exit 1; fi
if [ ! -d "${p%/*}/" ]; then echo "directory ${p%/*}/ does not exist" >&2; exit 1; fi
`)
	if fromStdin {
		b.WriteString(`rm -f -- "$t" || exit 1
umask 077
cat > "$t" || exit 1
`)
		if f.Stage {
			// The caller's StagedCheck does the rest, the hash included:
			// once, not here and there.
			b.WriteString("trap - EXIT\n")
			return b.String()
		}
	} else {
		// Put created it with O_EXCL after removing any leftover, so it is a
		// plain file, not a link planted to redirect the chown and chmod.
		b.WriteString(`if [ -L "$t" ] || [ ! -f "$t" ]; then echo "$t is not the uploaded file" >&2; exit 1; fi
`)
	}
	b.WriteString(SHA256Into("got", `"$t"`) + ` || exit 1
got=${got%% *}
`)
	fmt.Fprintf(&b, "if [ \"$got\" != %s ]; then echo \"received content has sha256 $got, expected %s: incomplete upload, nothing installed\" >&2; exit %d; fi\n", sum, sum, exitMismatch)
	if owner != "" {
		fmt.Fprintf(&b, "chown -- %s \"$t\" || exit 1\n", shellQuote(owner))
	}
	fmt.Fprintf(&b, "chmod %04o \"$t\" || exit 1\n", uint32(unixMode(f.Mode)))
	if f.Check != nil {
		args := ""
		for _, a := range f.Check {
			args += " " + shellQuote(a)
		}
		// The temporary file runs in the target's directory, so a noexec
		// mount fails here too. Its output is cut short: it goes into an error.
		fmt.Fprintf(&b, `to=; if command -v timeout >/dev/null 2>&1; then to="timeout %d"; fi
out=$($to "$t"%s 2>&1 </dev/null); rc=$?
if [ $rc -ne 0 ]; then
	if [ $rc -eq 124 ] && [ -n "$to" ]; then out="no exit within %ds"; fi
	printf '%%s\n' "exit status $rc: $(printf '%%s' "$out" | head -c 300)" >&2
	exit %d
fi
`, CheckTimeout, args, CheckTimeout, exitCheck)
	}
	// Flush the content before the rename makes it the file: a crash right
	// after must not leave an empty file where the old one was.
	b.WriteString(`sync -- "$t" 2>/dev/null || sync
`)
	if f.Stage {
		b.WriteString("trap - EXIT\n")
	} else {
		b.WriteString(`mv -f -- "$t" "$p" || exit 1
`)
	}
	return b.String()
}

// StagedCheck is a shell command (a subshell) that does on the host what Put
// does after the transfer, for a file Put staged: it checks that the
// temporary file is the plain file received, with f.SHA256, sets its owner
// and mode, runs f.Check, and flushes it, leaving it at Path+TempSuffix for
// the caller to rename. It exits non-zero with the reason on stderr
// (status 65: another sha256; 66: f.Check failed), having removed the
// temporary file.
func StagedCheck(f File) string {
	f.Stage = true
	return "(\n" + installScript(f, strings.ToLower(f.SHA256), false) + ")"
}

// StagedChecks does on the host what StagedCheck does for each of files,
// in a handful of processes instead of five per file: one `openssl dgst`
// (or, without openssl, one `sha256sum -c`) checks every sum, then each
// file's checks by the shell's builtins, one chown per owner and one chmod
// per mode (none for a file Settled by its upload). When a sum does not match, or neither can take the list (a
// path it would escape, a sha256sum without --status), each file goes
// through StagedCheck, which words the failure. Like StagedCheck it is one
// command for a script. Unlike StagedCheck it does not flush the files to
// disk: the script follows it with StagedFlush and, before its renames,
// StagedFlushed, so that the disk writes run beside the script's other
// checks.
func StagedChecks(files []File) string {
	var list, each, settle strings.Builder
	var want, temps []string
	fast := true
	var owners, modes []string
	byOwner, byMode := map[string]string{}, map[string]string{}
	for _, f := range files {
		f.Stage = true
		t := shellQuote(f.Path + TempSuffix)
		fmt.Fprintf(&list, " %s %s", strings.ToLower(f.SHA256), t)
		want = append(want, strings.ToLower(f.SHA256)+" *"+f.Path+TempSuffix)
		temps = append(temps, t)
		// OpenSSL prints a path as it is; sha256sum escapes one with a
		// newline or backslash: such a list goes to sha256sum only.
		fast = fast && path.IsAbs(f.Path) && !strings.ContainsAny(f.Path, "\\\n")
		each.WriteString(StagedCheck(f) + " || exit $?\n")
		fmt.Fprintf(&settle, "p=%s; t=%s\n", shellQuote(f.Path), t)
		settle.WriteString(`if [ -d "$p" ] && [ ! -L "$p" ]; then echo "$p is a directory" >&2; exit 1; fi
if [ ! -d "${p%/*}/" ]; then echo "directory ${p%/*}/ does not exist" >&2; exit 1; fi
if [ -L "$t" ] || [ ! -f "$t" ]; then echo "$t is not the uploaded file" >&2; exit 1; fi
`)
		if f.Settled {
			continue
		}
		owner := f.Owner
		if f.Group != "" {
			owner += ":" + f.Group
		}
		if owner != "" {
			if _, ok := byOwner[owner]; !ok {
				owners = append(owners, owner)
			}
			byOwner[owner] += " " + t
		}
		mode := fmt.Sprintf("%04o", unixMode(f.Mode))
		if _, ok := byMode[mode]; !ok {
			modes = append(modes, mode)
		}
		byMode[mode] += " " + t
	}
	// Owner and mode only once the files were checked to be plain files,
	// not links planted to redirect them.
	for _, o := range owners {
		fmt.Fprintf(&settle, "chown -- %s%s || exit 1\n", shellQuote(o), byOwner[o])
	}
	for _, m := range modes {
		fmt.Fprintf(&settle, "chmod %s%s || exit 1\n", m, byMode[m])
	}
	check := fmt.Sprintf(`printf '%%s  %%s\n'%s | sha256sum -c --status - 2>/dev/null`, list.String())
	if fast {
		// OpenSSL's digest uses the CPU's SHA instructions where coreutils'
		// does not (~5x faster on a 24 MB binary); sha256sum stays for a
		// host without openssl, or whose openssl prints something else.
		// `command -v` first: a host without openssl spends no process
		// finding out.
		check = fmt.Sprintf(`{ { command -v openssl >/dev/null 2>&1 && [ "$(openssl dgst -sha256 -r %s 2>/dev/null)" = %s ]; } || %s; }`, strings.Join(temps, " "), shellQuote(strings.Join(want, "\n")), check)
	}
	return fmt.Sprintf(`(
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 141' PIPE; trap 'exit 143' TERM
if %s; then
%s
else
%s
fi
)`, check, strings.TrimSpace(settle.String()), strings.TrimSpace(each.String()))
}

// flushVar is the shell variable that holds the process id of the
// background flush StagedFlush starts.
const flushVar = "dcctl_flush"

// StagedFlush is a shell command that starts flushing the temporary files
// of files to disk in the background, for StagedFlushed to wait for: a
// script's checks (the sums, running the new binary, nats-server -t) then
// run while the disk writes the 24 MB binary, where they ran one after the
// other. It may come before StagedChecks: it flushes nothing unless every
// temporary file is a plain file (not a link planted to redirect it), which
// StagedChecks then refuses. Its output goes nowhere, so that a script
// that fails before it waits does not keep its session open.
func StagedFlush(files []File) string {
	var all string
	for _, f := range files {
		all += " " + shellQuote(f.Path+TempSuffix)
	}
	return fmt.Sprintf(`{ for t in%[1]s; do if [ -L "$t" ] || [ ! -f "$t" ]; then exit 0; fi; done; sync --%[1]s || sync; } </dev/null >/dev/null 2>&1 &
%[2]s=$!`, all, flushVar)
}

// StagedFlushed is a shell command that waits for StagedFlush's flush, or,
// in a script that started none, flushes files now; its status is the
// flush's. Flushed before a rename makes them the files: a crash right
// after must not leave an empty file where the old one was (see
// installScript).
func StagedFlushed(files []File) string {
	var all string
	for _, f := range files {
		all += " " + shellQuote(f.Path+TempSuffix)
	}
	return fmt.Sprintf(`if [ -n "${%[1]s-}" ]; then wait "$%[1]s"; else { sync --%[2]s 2>/dev/null || sync; }; fi`, flushVar, all)
}

// SHA256Into is a shell command that sets the variable name to the sha256
// line of the file at file (a shell word, quoted as needed): 64 hex digits,
// a space, and more. It hashes with OpenSSL when the host has it (it uses
// the CPU's SHA instructions; coreutils' sha256sum does not, and takes ~5x
// the CPU on a 24 MB binary), and with sha256sum otherwise or when openssl
// fails. Its status is the hash's.
func SHA256Into(name, file string) string {
	return fmt.Sprintf("{ command -v openssl >/dev/null 2>&1 && %[1]s=$(openssl dgst -sha256 -r < %[2]s 2>/dev/null); } || %[1]s=$(sha256sum < %[2]s)", name, file)
}

// unixMode converts Go's mode bits to chmod's octal (Go keeps setuid & co.
// outside the low 12 bits).
func unixMode(m os.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// SHA256 returns the hex sha256 of the file at p on the host, or an error
// wrapping fs.ErrNotExist when there is none. Compare it with a local sum to
// skip uploads that would change nothing.
func (c *Client) SHA256(ctx context.Context, p string) (string, error) {
	cmd := fmt.Sprintf("if [ -e %[1]s ]; then %[2]s && echo \"$s\"; else echo absent; fi", shellQuote(p), SHA256Into("s", shellQuote(p)))
	out, _, err := c.Run(ctx, cmd)
	if err != nil {
		return "", fmt.Errorf("sha256 of %s on %s: %w", p, c.name, err)
	}
	sum, _, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if sum == "absent" {
		return "", fmt.Errorf("sha256 of %s on %s: %w", p, c.name, fs.ErrNotExist)
	}
	if !sha256Hex.MatchString(sum) {
		return "", fmt.Errorf("sha256 of %s on %s: unexpected sha256sum output %q", p, c.name, out)
	}
	return sum, nil
}

// hashSeeker hashes r to its end and seeks back to where it was.
func hashSeeker(r io.Reader) (string, error) {
	rs, ok := r.(io.ReadSeeker)
	if !ok {
		return "", errors.New("File.SHA256 is empty and Content cannot be read twice (not an io.ReadSeeker)")
	}
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return "", fmt.Errorf("hash content: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, rs); err != nil {
		return "", fmt.Errorf("hash content: %w", err)
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return "", fmt.Errorf("hash content: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// uploadReader hashes and counts what goes to the host and remembers a read
// error, so that Put can name the local cause rather than the host's
// "incomplete upload". The SSH library reads it from its own goroutine, which
// may outlive the session: after stop, reads return at once without touching
// Content. A Read already blocked in Content when Put returns (a pipe that
// never delivers) stays there; its bytes are dropped.
type uploadReader struct {
	r        io.Reader
	progress func(int64)
	known    string // the sum of a File.Hashed content; its hash is nil

	mu      sync.Mutex
	hash    hash.Hash
	n       int64
	eof     bool
	err     error
	stopped bool
}

func (u *uploadReader) Read(p []byte) (int, error) {
	u.mu.Lock()
	stopped := u.stopped
	u.mu.Unlock()
	if stopped {
		return 0, io.ErrClosedPipe
	}
	n, err := u.r.Read(p)

	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopped {
		return 0, io.ErrClosedPipe
	}
	if n > 0 {
		if u.hash != nil {
			u.hash.Write(p[:n])
		}
		u.n += int64(n)
		if u.progress != nil {
			u.progress(u.n)
		}
	}
	switch {
	case err == io.EOF:
		u.eof = true
	case err != nil:
		u.err = err
	}
	return n, err
}

// stop ends reading and reports what was read.
func (u *uploadReader) stop() (n int64, sum string, eof bool, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.stopped = true
	if u.hash == nil {
		return u.n, u.known, u.eof, u.err
	}
	return u.n, hex.EncodeToString(u.hash.Sum(nil)), u.eof, u.err
}

// newUploadReader reads f's content for Put, hashing it unless f.Hashed.
func newUploadReader(f File, want string, progress func(int64)) *uploadReader {
	if f.Hashed {
		return &uploadReader{r: f.Content, progress: progress, known: want}
	}
	return &uploadReader{r: f.Content, hash: sha256.New(), progress: progress}
}
