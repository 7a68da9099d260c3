package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Transfer names how Put sends content to a host.
const (
	TransferSFTP = "sftp" // SFTP with concurrent writes (the default)
	TransferExec = "exec" // streamed into the install script's stdin
)

// sftpMaxPacket is the largest write request: 32 KiB is what every SFTP
// server must accept (OpenSSH takes up to 256 KiB, other servers may not),
// and pkg/sftp's 64 requests in flight already fill the 2 MiB window of an
// SSH channel, so a larger packet would not make a transfer faster.
const sftpMaxPacket = 32 << 10

// sftpServers are where sftp-server lives (Debian and Ubuntu; Fedora and
// RHEL; Alpine and others; Arch; older layouts), tried in order after the PATH. Under sudo
// it is started by path: the sshd's sftp subsystem would run it as the
// login user.
var sftpServers = []string{
	"/usr/lib/openssh/sftp-server",
	"/usr/libexec/openssh/sftp-server",
	"/usr/libexec/sftp-server",
	"/usr/lib/ssh/sftp-server",
	"/usr/lib/sftp-server",
}

// noSFTPServer is what the sudo start script prints when the host has no
// sftp-server: the one failure that means "use exec", not "fail".
const noSFTPServer = "dcctl: no sftp-server found"

// sftpStartScript finds the host's sftp-server and becomes it, so that one
// exec channel (through sudo -n) carries the SFTP session.
func sftpStartScript() string {
	var b strings.Builder
	b.WriteString(`p=$(command -v sftp-server 2>/dev/null)
for c in "$p"`)
	for _, s := range sftpServers {
		b.WriteString(" " + s)
	}
	fmt.Fprintf(&b, `; do
	if [ -n "$c" ] && [ -x "$c" ]; then exec "$c"; fi
done
echo %s >&2
exit 127
`, shellQuote(noSFTPServer))
	return b.String()
}

// sftpConn is the client's one SFTP session, shared by concurrent Puts
// (pkg/sftp matches replies to requests). It takes one channel on the
// connection outside the sessions semaphore: 8 commands plus it stay under
// OpenSSH's MaxSessions of 10.
type sftpConn struct {
	mu       sync.Mutex
	client   *sftp.Client
	sess     *ssh.Session
	fallback bool   // no sftp-server on the host: Put uses exec from now on
	why      string // why, for the one log line

	// the host's users and groups by name (sftpIDs), read once
	idsMu         sync.Mutex
	users, groups map[string]int
}

// sftpClient returns the SFTP session, opening it on first use. It returns
// nil, nil when the host has no sftp-server; the first time, it says so
// through Config.Log.
func (c *Client) sftpClient(ctx context.Context) (*sftp.Client, error) {
	s := &c.sftp
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fallback {
		return nil, nil
	}
	if s.client != nil {
		return s.client, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: start sftp: %w", c.name, context.Cause(ctx))
	}
	client, sess, err := c.openSFTP()
	var none *noSFTPError
	if errors.As(err, &none) {
		s.fallback, s.why = true, none.why
		if c.log != nil {
			c.log(fmt.Sprintf("%s: %s: uploading through exec instead (set transfer = \"exec\" for this host to skip the attempt)", c.name, none.why))
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.client, s.sess = client, sess
	go func() {
		// When the session ends (connection lost, killed), forget it: the
		// next Put opens a new one or fails with the connection's error.
		client.Wait()
		s.mu.Lock()
		if s.client == client {
			s.client, s.sess = nil, nil
		}
		s.mu.Unlock()
	}()
	return client, nil
}

// noSFTPError means the host has no sftp-server to use.
type noSFTPError struct{ why string }

func (e *noSFTPError) Error() string { return e.why }

func (c *Client) openSFTP() (*sftp.Client, *ssh.Session, error) {
	sess, err := c.conn.NewSession()
	if err != nil {
		return nil, nil, c.explain(fmt.Errorf("%s: open session for sftp: %w", c.name, err))
	}
	in, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, nil, fmt.Errorf("%s: start sftp: %w", c.name, err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, nil, fmt.Errorf("%s: start sftp: %w", c.name, err)
	}
	var stderr bytes.Buffer
	sess.Stderr = &limitedBuffer{b: &stderr, max: 4096}
	if c.sudo {
		err = sess.Start(c.wrap(sftpStartScript()))
	} else {
		err = sess.RequestSubsystem("sftp")
		if err != nil && err.Error() == "ssh: subsystem request failed" {
			// The sshd refused: it has no sftp subsystem configured.
			sess.Close()
			return nil, nil, &noSFTPError{why: "the sshd offers no sftp subsystem"}
		}
	}
	if err != nil {
		sess.Close()
		return nil, nil, c.explain(fmt.Errorf("%s: start sftp: %w", c.name, err))
	}
	client, err := sftp.NewClientPipe(out, in,
		sftp.UseConcurrentWrites(true), sftp.MaxPacketChecked(sftpMaxPacket))
	if err == nil {
		return client, sess, nil
	}
	if !c.sudo && !c.silent.Load() && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)) {
		// The sshd took the subsystem request and its program ended at
		// once: OpenSSH runs the Subsystem line's program through the
		// user's shell without checking it exists, and Debian names
		// /usr/lib/openssh/sftp-server whether or not openssh-sftp-server
		// (only recommended) is installed. A subsystem session has no
		// exit status to read (it was never "started" as a command), so
		// this is all there is to know; exec does the same work.
		sess.Close()
		return nil, nil, &noSFTPError{why: "the sshd's sftp subsystem ended before the SFTP handshake (its program, such as /usr/lib/openssh/sftp-server, is not installed?)"}
	}
	// The server went away before the SFTP handshake: its exit says why.
	werr := sess.Wait()
	sess.Close()
	msg := strings.TrimSpace(stderr.String())
	if strings.Contains(msg, noSFTPServer) {
		return nil, nil, &noSFTPError{why: "no sftp-server on the host (looked on the PATH and in " + strings.Join(sftpServers, ", ") + ")"}
	}
	var exitErr *ssh.ExitError
	if errors.As(werr, &exitErr) {
		e := &ExitError{Host: c.name, Cmd: "sftp-server", Code: exitErr.ExitStatus(), Signal: exitErr.Signal(), Stderr: stderr.Bytes()}
		if err := c.explainExit(e); err != error(e) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%s: start sftp: %w", c.name, e)
	}
	return nil, nil, c.explain(fmt.Errorf("%s: start sftp: %w (%s)", c.name, err, msg))
}

// dropSFTP ends client's session (a cancelled Put stuck on a silent host);
// the next Put opens a new one.
func (c *Client) dropSFTP(client *sftp.Client) {
	s := &c.sftp
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != client {
		return
	}
	s.client.Close()
	if s.sess != nil {
		s.sess.Close()
	}
	s.client, s.sess = nil, nil
}

// EndSFTP ends the client's SFTP session, if one is open, so that what it
// holds is freed (its channel's buffers, the SFTP client, the host's
// sftp-server); a later Put opens a new one. No Put may run on c meanwhile.
func (c *Client) EndSFTP() { c.closeSFTP() }

// closeSFTP ends the session at Close.
func (c *Client) closeSFTP() {
	s := &c.sftp
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		s.client.Close()
		s.sess.Close()
		s.client, s.sess = nil, nil
	}
}

// limitedBuffer keeps the first max bytes written to it and drops the rest:
// a server's stderr must not grow without bound over a long session.
type limitedBuffer struct {
	mu  sync.Mutex
	b   *bytes.Buffer
	max int
}

// ReadFrom keeps the session's copying goroutine to a small buffer
// (smallcopy.go).
func (l *limitedBuffer) ReadFrom(r io.Reader) (int64, error) { return readSmall(r, l.Write) }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.b.Len(); room > 0 {
		if len(p) > room {
			l.b.Write(p[:room])
		} else {
			l.b.Write(p)
		}
	}
	return len(p), nil
}
