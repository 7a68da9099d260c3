// Package sshtest is a test fixture: an in-process sshd. It is a real SSH
// server implementation (golang.org/x/crypto/ssh's server side, not a mock):
// real handshakes, host keys, public key auth, session channels whose exec
// requests run `sh -c` on this machine with the exit status sent back, signal
// requests, and direct-tcpip channels for tunnelled dials. Commands run as the
// test's own user, against the real filesystem (tests point them at
// t.TempDir()). Tests of remote and of the packages above it share it.
package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Server is an sshd listening on 127.0.0.1; it stops at the test's cleanup.
type Server struct {
	Addr     string       // 127.0.0.1:port
	HostKeys []ssh.Signer // the keys the server presents

	// NoSFTP makes the server refuse the sftp subsystem, as an sshd without
	// a Subsystem line does.
	NoSFTP atomic.Bool
	// OpenSSHStatus makes the sftp subsystem word its failures as OpenSSH's
	// sftp-server does: the status code's generic text ("Failure") instead
	// of the errno's ("no space left on device").
	OpenSSHStatus atomic.Bool
	// SFTPCommand, when set, is what the sftp subsystem runs under sh, as an
	// OpenSSH Subsystem line names a program: a path the host lacks (a
	// Debian host without openssh-sftp-server) makes the shell exit 127.
	SFTPCommand atomic.Pointer[string]
	// SFTPSessions counts sftp subsystem sessions started, SFTPEnded those
	// that ended (their client closed the channel or the connection).
	SFTPSessions, SFTPEnded atomic.Int64
	// SFTPFsync makes the sftp subsystem offer fsync@openssh.com, as
	// OpenSSH's sftp-server does (pkg/sftp's does not); SFTPFsyncs counts
	// the fsyncs it did.
	SFTPFsync  atomic.Bool
	SFTPFsyncs atomic.Int64
	// SFTPNoPosixRename makes the sftp subsystem leave out
	// posix-rename@openssh.com, as a server without it would.
	SFTPNoPosixRename atomic.Bool

	// KillAfter, when > 0, makes each new connection drop after the server has
	// read that many bytes from the client: a network failure mid-upload.
	KillAfter atomic.Int64

	t      testing.TB
	config *ssh.ServerConfig
	ln     net.Listener
	// pathDir is prepended to PATH for commands (the sudo stand-in lives there).
	pathDir atomic.Pointer[string]
	// execs counts exec requests: the round trips a client made.
	execs atomic.Int64
	// keepalives counts the global requests answered (a client's keepalives).
	keepalives atomic.Int64
	// frozen, once closed, makes the server stop reading from every
	// connection: a host gone silent behind a partition.
	frozen     chan struct{}
	freezeOnce sync.Once

	mu    sync.Mutex
	conns []net.Conn
	procs map[int]bool // pids of running commands, killed at cleanup
	wg    sync.WaitGroup
}

// NewServer starts an sshd on 127.0.0.1:0 that accepts clientKey and
// presents hostKeys (one fresh ed25519 key when none are given).
func NewServer(t testing.TB, clientKey ssh.PublicKey, hostKeys ...ssh.Signer) *Server {
	t.Helper()
	if len(hostKeys) == 0 {
		hostKeys = []ssh.Signer{NewEd25519Signer(t)}
	}
	s := &Server{t: t, HostKeys: hostKeys, procs: map[int]bool{}, frozen: make(chan struct{})}
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(clientKey.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("key not authorised")
		},
	}
	for _, k := range hostKeys {
		s.config.AddHostKey(k)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s.ln = ln
	s.Addr = ln.Addr().String()
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

// Port is the port the server listens on.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

func (s *Server) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	for pid := range s.procs {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		if n := s.KillAfter.Load(); n > 0 {
			nc = &killConn{Conn: nc, left: n}
		}
		nc = &freezableConn{Conn: nc, frozen: s.frozen}
		s.mu.Lock()
		s.conns = append(s.conns, nc)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(nc)
		}()
	}
}

func (s *Server) handleConn(nc net.Conn) {
	defer nc.Close()
	_, chans, reqs, err := ssh.NewServerConn(nc, s.config)
	if err != nil {
		return // failed handshakes are what some tests are about
	}
	go func() {
		for r := range reqs { // keepalives get a "no", as from OpenSSH
			s.keepalives.Add(1)
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.handleSession(nch) }()
		case "direct-tcpip":
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.handleDirectTCPIP(nch) }()
		default:
			nch.Reject(ssh.UnknownChannelType, "unsupported channel type")
		}
	}
}

func (s *Server) handleSession(nch ssh.NewChannel) {
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	var cmd *exec.Cmd
	sftpRunning := false
	pid := 0
	for req := range reqs {
		switch req.Type {
		case "exec":
			if cmd != nil || sftpRunning {
				req.Reply(false, nil)
				continue
			}
			var p struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				req.Reply(false, nil)
				continue
			}
			s.execs.Add(1)
			cmd = s.command(p.Command)
			wait := s.startCommand(ch, cmd) // started here, so signals can find it
			if cmd.Process != nil {
				pid = cmd.Process.Pid
			}
			req.Reply(true, nil)
			go wait()
		case "subsystem":
			var p struct{ Name string }
			if cmd != nil || sftpRunning || ssh.Unmarshal(req.Payload, &p) != nil || p.Name != "sftp" || s.NoSFTP.Load() {
				req.Reply(false, nil)
				continue
			}
			sftpRunning = true
			s.SFTPSessions.Add(1)
			if command := s.SFTPCommand.Load(); command != nil {
				// OpenSSH accepts the request and execs the program through
				// the user's shell, whether or not it exists.
				cmd = s.command(*command)
				wait := s.startCommand(ch, cmd)
				if cmd.Process != nil {
					pid = cmd.Process.Pid
				}
				req.Reply(true, nil)
				go wait()
				continue
			}
			req.Reply(true, nil)
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serveSFTP(ch) }()
		case "signal":
			// Like OpenSSH, a signal goes to the command; here to its process
			// group, so that `sh -c` wrappers do not shield the real work.
			var p struct{ Signal string }
			if err := ssh.Unmarshal(req.Payload, &p); err == nil && pid != 0 {
				if sig, ok := signals[p.Signal]; ok {
					syscall.Kill(-pid, sig)
				}
			}
			if req.WantReply {
				req.Reply(true, nil)
			}
		default:
			if req.WantReply {
				req.Reply(req.Type == "env", nil)
			}
		}
	}
	// The client closed the channel; a command still running carries on, as
	// under OpenSSH, with its stdin at EOF.
}

// serveSFTP runs pkg/sftp's server on the channel, against the real
// filesystem as the test's user, as OpenSSH's sftp subsystem would.
func (s *Server) serveSFTP(ch ssh.Channel) {
	defer s.SFTPEnded.Add(1)
	defer ch.Close()
	var rw io.ReadWriteCloser = ch
	if s.OpenSSHStatus.Load() {
		rw = &openSSHStatus{ReadWriteCloser: rw}
	}
	if s.SFTPFsync.Load() || s.SFTPNoPosixRename.Load() {
		rw = newSFTPExtensions(rw, s.SFTPFsync.Load(), s.SFTPNoPosixRename.Load(), &s.SFTPFsyncs)
	}
	srv, err := sftp.NewServer(rw)
	if err != nil {
		return
	}
	status := uint32(0)
	if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
		status = 1
	}
	ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
}

var signals = map[string]syscall.Signal{"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP}

func (s *Server) command(command string) *exec.Cmd {
	cmd := exec.Command("sh", "-c", command)
	cmd.Env = os.Environ()
	if dir := s.pathDir.Load(); dir != nil {
		cmd.Env = append(cmd.Env, "PATH="+*dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// startCommand starts cmd with the channel as its stdio; the returned func
// waits for it and reports how it ended.
func (s *Server) startCommand(ch ssh.Channel, cmd *exec.Cmd) (wait func()) {
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		return func() {
			fmt.Fprintf(ch.Stderr(), "start: %v\n", err)
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{127}))
			ch.Close()
		}
	}
	pid := cmd.Process.Pid
	s.mu.Lock()
	s.procs[pid] = true
	s.mu.Unlock()
	go func() {
		io.Copy(stdin, ch) // ends at the client's EOF or when the channel goes
		stdin.Close()
	}()
	return func() { s.finishCommand(ch, cmd, pid) }
}

func (s *Server) finishCommand(ch ssh.Channel, cmd *exec.Cmd, pid int) {
	err := cmd.Wait()
	s.mu.Lock()
	delete(s.procs, pid)
	s.mu.Unlock()

	var exitErr *exec.ExitError
	switch {
	case err == nil:
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			name := "KILL"
			for n, sig := range signals {
				if sig == ws.Signal() {
					name = n
				}
			}
			ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
				Signal     string
				CoreDumped bool
				Error      string
				Lang       string
			}{Signal: name}))
		} else {
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(exitErr.ExitCode())}))
		}
	default:
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{255}))
	}
	ch.Close()
}

func (s *Server) handleDirectTCPIP(nch ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad payload")
		return
	}
	conn, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	defer conn.Close()
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	go ssh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() { io.Copy(conn, ch); conn.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(ch, conn); ch.CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}

// Drop closes every connection and the listener: a host whose sshd went
// away mid-run. Clients see their connection lost, and a new one refused.
func (s *Server) Drop() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

// Freeze makes the server stop reading from every connection, as a host
// gone silent behind a partition: clients see no error, only silence.
func (s *Server) Freeze() { s.freezeOnce.Do(func() { close(s.frozen) }) }

// freezableConn stops reading once frozen is closed, until the conn closes.
type freezableConn struct {
	net.Conn
	frozen chan struct{}
	closed sync.Once
	done   chan struct{}
	// shut closes done once: the SSH server's reader and kex loop may
	// both close the connection at the same moment.
	shut sync.Once
}

func (f *freezableConn) Read(p []byte) (int, error) {
	select {
	case <-f.frozen:
		<-f.closedCh()
		return 0, net.ErrClosed
	default:
		return f.Conn.Read(p)
	}
}

func (f *freezableConn) closedCh() chan struct{} {
	f.closed.Do(func() { f.done = make(chan struct{}) })
	return f.done
}

func (f *freezableConn) Close() error {
	ch := f.closedCh()
	f.shut.Do(func() { close(ch) })
	return f.Conn.Close()
}

// killConn drops the connection once left bytes have been read from it.
type killConn struct {
	net.Conn
	mu   sync.Mutex
	left int64
}

func (k *killConn) Read(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.left <= 0 {
		k.Conn.Close()
		return 0, net.ErrClosed
	}
	if int64(len(p)) > k.left {
		p = p[:k.left]
	}
	n, err := k.Conn.Read(p)
	k.left -= int64(n)
	return n, err
}

// --- keys and configs ---

func NewEd25519Signer(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func NewRSASigner(t testing.TB) ssh.Signer {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ClientKey writes a fresh ed25519 private key to dir/id_ed25519 (mode
// 0600) and returns its path and signer.
func ClientKey(t testing.TB, dir string) (string, ssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "dcctl test")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return keyFile, signer
}

// WriteKnownHost appends addr's key to a known_hosts file.
func WriteKnownHost(t testing.TB, file, addr string, key ssh.PublicKey) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)); err != nil {
		t.Fatal(err)
	}
}

// sudoStandIn replaces sudo, which is not installed on the test machine
// (and the tests run as root, where it would change nothing). It insists on
// -n, logs its first three arguments (the fourth is the script) to sudo.log
// beside itself and execs them, or refuses the way sudo -n does without
// NOPASSWD when a file named deny is beside it. What it lets a test check is
// the caller's: that every command, and an upload's stdin stream, goes
// through `sudo -n sh -c` intact after two real shells have parsed it.
const sudoStandIn = `#!/bin/sh
printf '%s %s %s\n' "$1" "$2" "$3" >> "$(dirname "$0")/sudo.log"
if [ -e "$(dirname "$0")/deny" ]; then
	echo "sudo: a password is required" >&2
	exit 1
fi
[ "$1" = -n ] || { echo "sudo: expected -n" >&2; exit 1; }
shift
exec "$@"
`

// SudoStandIn puts the sudo stand-in first on the PATH of the server's
// commands and returns its directory (where sudo.log and deny live).
func (s *Server) SudoStandIn(t testing.TB) string {
	t.Helper()
	return s.Command(t, "sudo", sudoStandIn)
}

// Command puts an executable script named name first on the PATH of the
// server's commands (a stand-in for a program this machine lacks or must
// not run, such as systemctl) and returns the directory that holds it.
func (s *Server) Command(t testing.TB, name, script string) string {
	t.Helper()
	dir := s.pathDir.Load()
	if dir == nil {
		d := t.TempDir()
		dir = &d
		s.pathDir.Store(dir)
	}
	if err := os.WriteFile(filepath.Join(*dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return *dir
}

// sftpServerEnv, when set to 1 in a test binary's environment, makes
// ServeSFTPIfAsked serve SFTP on stdin and stdout instead of running tests.
const sftpServerEnv = "DCCTL_SSHTEST_SFTP_SERVER"

// ServeSFTPIfAsked turns the test binary into an sftp-server when the
// SFTPServerStandIn script started it; call it first in TestMain.
func ServeSFTPIfAsked() {
	if os.Getenv(sftpServerEnv) != "1" {
		return
	}
	srv, err := sftp.NewServer(struct {
		io.Reader
		io.WriteCloser
	}{os.Stdin, os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sftp-server:", err)
		os.Exit(1)
	}
	if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(os.Stderr, "sftp-server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// SFTPServerStandIn puts an executable named sftp-server on the PATH of the
// server's commands (beside the sudo stand-in when there is one), as hosts
// have in /usr/lib/openssh: it is the test binary serving SFTP on its stdio
// (the test package's TestMain must call ServeSFTPIfAsked). Each start
// appends a line to sftp-server.log beside it. It returns the directory.
func (s *Server) SFTPServerStandIn(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if d := s.pathDir.Load(); d != nil {
		dir = *d
	}
	script := fmt.Sprintf("#!/bin/sh\necho started >> \"$(dirname \"$0\")/sftp-server.log\"\n%s=1 exec '%s'\n", sftpServerEnv, exe)
	if err := os.WriteFile(filepath.Join(dir, "sftp-server"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s.pathDir.Store(&dir)
	return dir
}

// Execs is how many commands the server was asked to run (exec requests):
// the round trips its clients made.
func (s *Server) Execs() int64 { return s.execs.Load() }

// KeepAlives is how many global requests (keepalives) the server answered.
func (s *Server) KeepAlives() int64 { return s.keepalives.Load() }
