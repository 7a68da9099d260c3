package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// ExitError reports a command that ran and failed on the host.
type ExitError struct {
	Host   string // node name
	Cmd    string // the command as the caller gave it (before sudo/sh wrapping)
	Code   int    // exit status; -1 when killed by a signal or the status was lost
	Signal string // signal name when killed by one
	Stderr []byte
}

func (e *ExitError) Error() string {
	status := fmt.Sprintf("exited with status %d", e.Code)
	if e.Signal != "" {
		status = "was killed by SIG" + e.Signal
	} else if e.Code < 0 {
		status = "ended without an exit status (connection lost?)"
	}
	msg := fmt.Sprintf("%s: command %s %s", e.Host, summarize(e.Cmd), status)
	if tail := stderrTail(e.Stderr); tail != "" {
		msg += ": " + tail
	}
	return msg
}

// cancelGrace bounds how long a cancelled Run waits for the session to wind
// down (to return what output there was) before giving up on it.
const cancelGrace = 5 * time.Second

// Run runs cmd under sh on the host (through `sudo -n` when Config.Sudo is
// set) and returns its output. A non-zero exit is an *ExitError. Cancelling
// ctx sends SIGTERM to the command and closes its session; Run then returns
// ctx's error. Commands appear in errors: never put a secret in one (pass it
// on stdin with RunInput).
func (c *Client) Run(ctx context.Context, cmd string) (stdout, stderr []byte, err error) {
	return c.RunInput(ctx, cmd, nil)
}

// RunInput is Run with stdin fed from r (nil: empty stdin).
func (c *Client) RunInput(ctx context.Context, cmd string, stdin io.Reader) (stdout, stderr []byte, err error) {
	return c.run(ctx, cmd, cmd, stdin)
}

// run runs cmd, naming it label in errors.
func (c *Client) run(ctx context.Context, label, cmd string, stdin io.Reader) (stdout, stderr []byte, err error) {
	select {
	case c.sessions <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("%s: run %s: %w", c.name, summarize(label), context.Cause(ctx))
	}
	sess, err := c.conn.NewSession()
	if err != nil {
		<-c.sessions
		return nil, nil, c.explain(fmt.Errorf("%s: open session for %s: %w", c.name, summarize(label), err))
	}
	var outBuf, errBuf bytes.Buffer
	sess.Stdin = stdin
	sess.Stdout = &outBuf
	sess.Stderr = &errBuf
	if err := sess.Start(c.wrap(cmd)); err != nil {
		sess.Close()
		<-c.sessions
		return nil, nil, c.explain(fmt.Errorf("%s: start %s: %w", c.name, summarize(label), err))
	}
	done := make(chan error, 1)
	go func() {
		err := sess.Wait()
		sess.Close()
		<-c.sessions
		done <- err
	}()

	select {
	case err = <-done:
	case <-ctx.Done():
		// SIGTERM first (sudo relays it to its command; SIGKILL would orphan
		// it), then closing the channel, which ends the command's stdin.
		_ = sess.Signal(ssh.SIGTERM)
		sess.Close()
		grace := time.NewTimer(cancelGrace)
		defer grace.Stop()
		select {
		case <-done:
			return outBuf.Bytes(), errBuf.Bytes(), fmt.Errorf("%s: run %s: %w", c.name, summarize(label), context.Cause(ctx))
		case <-grace.C:
			// The buffers may still be written to: do not hand them out.
			return nil, nil, fmt.Errorf("%s: run %s: %w", c.name, summarize(label), context.Cause(ctx))
		}
	}
	stdout, stderr = outBuf.Bytes(), errBuf.Bytes()
	if err == nil {
		return stdout, stderr, nil
	}
	var exitErr *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case errors.As(err, &exitErr):
		e := &ExitError{Host: c.name, Cmd: label, Code: exitErr.ExitStatus(), Signal: exitErr.Signal(), Stderr: stderr}
		if e.Signal != "" {
			e.Code = -1
		}
		return stdout, stderr, c.explainExit(e)
	case errors.As(err, &missing):
		return stdout, stderr, c.explain(&ExitError{Host: c.name, Cmd: label, Code: -1, Stderr: stderr})
	default:
		return stdout, stderr, c.explain(fmt.Errorf("%s: run %s: %w", c.name, summarize(label), err))
	}
}

// wrap puts cmd under POSIX sh, through sudo when asked: one quoting rule for
// every command whatever the SSH user's login shell.
func (c *Client) wrap(cmd string) string {
	return wrapCommand(cmd, c.sudo)
}

func wrapCommand(cmd string, sudo bool) string {
	if sudo {
		return "sudo -n sh -c " + shellQuote(cmd)
	}
	return "sh -c " + shellQuote(cmd)
}

// shellQuote makes s one sh word: single quotes keep everything literal, and
// a single quote itself is closed, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// explainExit returns e, or an error around it that says what to configure:
// for sudo's own refusal where commands go through sudo (sudo -n never asks
// for a password: it fails at once, and this says why), a missing sudo, or a
// "Permission denied" to a login other than root without sudo.
func (c *Client) explainExit(e *ExitError) error {
	if !c.sudo {
		if c.user != "root" && strings.Contains(string(e.Stderr), "Permission denied") {
			return fmt.Errorf("%w%s", e, c.notRootHint())
		}
		return e
	}
	switch {
	case sudoRefused(e):
		return fmt.Errorf("%s: sudo -n refused to run as root for %s: configure passwordless sudo (NOPASSWD) for it, or set sudo = false and ssh_user = \"root\": %w", c.name, c.user, e)
	case sudoMissing(e):
		return fmt.Errorf("%s: sudo = true, but the host has no sudo command: install sudo there, or set sudo = false and ssh_user = \"root\": %w", c.name, e)
	}
	return e
}

// notRootHint is added to a "Permission denied" on a host where commands
// run as a login other than root, without sudo: what dcctl installs
// (units, /run/dcctl, owners) needs root.
func (c *Client) notRootHint() string {
	return fmt.Sprintf(" (commands run as %s, not root, and sudo = false: set sudo = true, with passwordless sudo for %s, or ssh_user = \"root\")", c.user, c.user)
}

func sudoRefused(e *ExitError) bool {
	s := string(e.Stderr)
	return e.Code == 1 && strings.Contains(s, "sudo:") &&
		(strings.Contains(s, "password is required") || strings.Contains(s, "a terminal is required") ||
			strings.Contains(s, "must have a tty") ||
			strings.Contains(s, "not in the sudoers") || strings.Contains(s, "not allowed to execute"))
}

// sudoMissing: the login shell found no sudo to run (dash says "sudo: not
// found", bash "sudo: command not found").
func sudoMissing(e *ExitError) bool {
	s := string(e.Stderr)
	return e.Code == 127 && (strings.Contains(s, "sudo: not found") || strings.Contains(s, "sudo: command not found"))
}

// summarize shortens a command for messages: its first line, at most 80 bytes.
func summarize(cmd string) string {
	first, _, multi := strings.Cut(strings.TrimSpace(cmd), "\n")
	if len(first) > 80 {
		first, multi = first[:80], true
	}
	if multi {
		first += " ..."
	}
	return fmt.Sprintf("%q", first)
}

// stderrTail keeps the end of stderr, where the reason for a failure usually is.
func stderrTail(b []byte) string {
	s := strings.TrimSpace(string(b))
	const max = 2000
	if len(s) > max {
		s = "..." + s[len(s)-max:]
	}
	return s
}
