package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"time"

	"github.com/pkg/sftp"
)

// putSFTP sends f's content over SFTP to <path>.dcctl-tmp, then (unless
// f.Stage) runs the install script, which checks the sha256 on the host,
// sets owner and mode, and renames. A transfer cut off midway (connection lost, client killed)
// leaves the temporary file behind, never a changed target: the next Put
// replaces it, and provision's facts find and remove it.
func (c *Client) putSFTP(ctx context.Context, sc *sftp.Client, f File, want string, progress func(int64)) (Staged, error) {
	tmp := f.Path + TempSuffix
	// SFTP requests take no context: a cancelled Put stuck on a silent host
	// ends the session after the grace period, which fails the requests.
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-finished:
			return
		case <-ctx.Done():
		}
		grace := time.NewTimer(cancelGrace)
		defer grace.Stop()
		select {
		case <-finished:
		case <-grace.C:
			c.dropSFTP(sc)
		}
	}()

	// The content goes through a pipe that cancellation closes: a Read
	// blocked in Content (a pipe that never delivers) must not hold Put.
	src := newUploadReader(f, want, progress)
	pr, pw := io.Pipe()
	defer pr.Close()
	go func() {
		_, err := io.Copy(pw, src)
		pw.CloseWithError(err)
	}()
	stop := context.AfterFunc(ctx, func() { pw.CloseWithError(context.Cause(ctx)) })
	defer stop()
	var st Staged
	err := sendSFTP(sc, tmp, pr, func(fh *sftp.File) {
		if f.Stage {
			st = c.settleOpen(sc, fh, f)
		}
	})
	n, sum, _, readErr := src.stop()
	if err != nil || readErr != nil {
		// Best effort: when the session is gone, the next run cleans up.
		_ = sc.Remove(tmp)
	}
	switch {
	case ctx.Err() != nil:
		return Staged{}, fmt.Errorf("upload %s to %s: %w", f.Path, c.name, context.Cause(ctx))
	case readErr != nil:
		return Staged{}, fmt.Errorf("upload %s to %s: read content: %w", f.Path, c.name, readErr)
	case err != nil:
		size := f.Size
		if size <= 0 {
			size = n
		}
		return Staged{}, c.explain(fmt.Errorf("upload %s to %s over sftp: %w%s; the installed file stays", f.Path, c.name, err, c.whyNotWritten(ctx, err, tmp, size)))
	}
	// What was sent is known here: a content that is not what the caller
	// promised is refused before the host is asked to install it.
	if (f.Size > 0 && n != f.Size) || sum != want {
		_ = sc.Remove(tmp)
		return Staged{}, c.installError(f, want, &ExitError{Host: c.name, Code: exitMismatch}, n, sum, true)
	}
	if f.Stage {
		return st, nil // the caller's script runs StagedCheck
	}
	_, _, err = c.run(ctx, "install "+f.Path, installScript(f, want, false), nil)
	if err == nil {
		return Staged{}, nil
	}
	return Staged{}, c.installError(f, want, err, n, sum, true)
}

// sendSFTP writes src to tmp, created afresh and private, and calls
// finish on the open file once it was written.
func sendSFTP(sc *sftp.Client, tmp string, src io.Reader, finish func(*sftp.File)) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	fh, err := sc.OpenFile(tmp, flags)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		// A leftover from an interrupted run, perhaps a symlink: removed, not
		// written through (O_EXCL does not follow links).
		if rmErr := sc.Remove(tmp); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			return fmt.Errorf("remove leftover %s: %w", tmp, rmErr)
		}
		fh, err = sc.OpenFile(tmp, flags)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("directory %s/ does not exist", path.Dir(tmp))
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	// Private until the install script sets the real mode: the content may
	// be a secret, and the server creates files with its umask.
	if err := fh.Chmod(0o600); err != nil {
		fh.Close()
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if _, err := fh.ReadFromWithConcurrency(src, 0); err != nil {
		fh.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	finish(fh)
	if err := fh.Close(); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	return nil
}
