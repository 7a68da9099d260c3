package remote

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/crypto/ssh"
)

// ErrStreamBusy: the client already holds its one Stream.
var ErrStreamBusy = errors.New("a stream is already open on this connection")

// Stream is a command left running on the host for a conversation in
// lines: the caller writes to its stdin and reads its stdout up to a line
// it waits for, as often as it likes, then Finish ends its stdin and waits
// for its exit. A script that must do something at the end of a run (the
// deployment lock's release) waits there on its stdin instead of costing
// the host a new session, login shell and sh then.
//
// A Stream takes a channel on the connection outside the sessions
// semaphore, as the SFTP session does: 8 commands, the SFTP session and one
// stream stay within OpenSSH's MaxSessions of 10, so a client holds at most
// one Stream at a time (Start answers ErrStreamBusy to a second). If the
// connection or dcctl goes away, the command's stdin ends (EOF): a script
// must then stop without acting.
type Stream struct {
	c      *Client
	label  string
	sess   *ssh.Session
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr lockedBuffer
	once   sync.Once // frees the client's stream slot
}

// Start starts cmd under sh (through sudo when configured), as Run does,
// and returns it running. ctx bounds the start only.
func (c *Client) Start(ctx context.Context, cmd string) (*Stream, error) {
	select {
	case c.streams <- struct{}{}:
	default:
		return nil, fmt.Errorf("%s: start %s: %w", c.name, summarize(cmd), ErrStreamBusy)
	}
	s := &Stream{c: c, label: cmd}
	fail := func(err error) (*Stream, error) {
		if s.sess != nil {
			s.sess.Close()
		}
		s.free()
		return nil, c.explain(fmt.Errorf("%s: start %s: %w", c.name, summarize(cmd), err))
	}
	if err := ctx.Err(); err != nil {
		return fail(context.Cause(ctx))
	}
	sess, err := c.conn.NewSession()
	if err != nil {
		return fail(err)
	}
	s.sess = sess
	sess.Stderr = &s.stderr
	if s.stdin, err = sess.StdinPipe(); err != nil {
		return fail(err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	s.out = bufio.NewReader(out)
	if err := sess.Start(c.wrap(cmd)); err != nil {
		return fail(err)
	}
	return s, nil
}

func (s *Stream) free() { s.once.Do(func() { <-s.c.streams }) }

// Send writes p to the command's stdin.
func (s *Stream) Send(p []byte) error {
	if _, err := s.stdin.Write(p); err != nil {
		return s.c.explain(fmt.Errorf("%s: write to %s: %w", s.c.name, summarize(s.label), err))
	}
	return nil
}

// Until reads the command's stdout up to a line equal to line and returns
// what came before it. If the output ends first, it returns all of it and
// io.EOF (Finish then says how the command ended). Cancelling ctx closes
// the stream.
func (s *Stream) Until(ctx context.Context, line string) ([]byte, error) {
	stop := context.AfterFunc(ctx, func() { s.sess.Close() })
	defer stop()
	var got bytes.Buffer
	for {
		l, err := s.out.ReadBytes('\n')
		if string(bytes.TrimSuffix(l, []byte("\n"))) == line && len(l) > len(line) {
			return got.Bytes(), nil
		}
		got.Write(l)
		if err == io.EOF {
			return got.Bytes(), io.EOF
		}
		if err != nil {
			if ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			return got.Bytes(), s.c.explain(fmt.Errorf("%s: read from %s: %w", s.c.name, summarize(s.label), err))
		}
	}
}

// Finish ends the command's stdin, reads the rest of its stdout and waits
// for it to exit; a non-zero exit is an *ExitError, as from Run.
// Cancelling ctx closes the stream.
func (s *Stream) Finish(ctx context.Context) (stdout, stderr []byte, err error) {
	defer s.free()
	stop := context.AfterFunc(ctx, func() { s.sess.Close() })
	defer stop()
	s.stdin.Close()
	stdout, rerr := io.ReadAll(s.out)
	err = s.sess.Wait()
	s.sess.Close()
	stderr = s.stderr.Bytes()
	if ctx.Err() != nil {
		return stdout, stderr, fmt.Errorf("%s: run %s: %w", s.c.name, summarize(s.label), context.Cause(ctx))
	}
	var exitErr *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil && rerr == nil:
		return stdout, stderr, nil
	case errors.As(err, &exitErr):
		e := &ExitError{Host: s.c.name, Cmd: s.label, Code: exitErr.ExitStatus(), Signal: exitErr.Signal(), Stderr: stderr}
		if e.Signal != "" {
			e.Code = -1
		}
		return stdout, stderr, s.c.explainExit(e)
	case errors.As(err, &missing):
		return stdout, stderr, s.c.explain(&ExitError{Host: s.c.name, Cmd: s.label, Code: -1, Stderr: stderr})
	default:
		return stdout, stderr, s.c.explain(fmt.Errorf("%s: run %s: %w", s.c.name, summarize(s.label), errors.Join(err, rerr)))
	}
}

// Close ends the stream at once: the channel closes, the command's stdin
// ends.
func (s *Stream) Close() {
	s.sess.Close()
	s.free()
}

// lockedBuffer is a bytes.Buffer safe for the session's copying goroutine
// and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// ReadFrom keeps the session's copying goroutine to a small buffer
// (smallcopy.go).
func (b *lockedBuffer) ReadFrom(r io.Reader) (int64, error) { return readSmall(r, b.Write) }

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.b.Bytes()...)
}
