package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// host is one simulated host: an SSH server (golang.org/x/crypto/ssh's
// server side, as internal/sshtest; that one is bound to testing.TB) whose
// exec requests run `/bin/sh -c` chrooted into the host's own tree, and
// whose tunnelled dials to the node's monitoring port are answered by the
// monitoring stand-in.
type host struct {
	name string
	root string
	ln   net.Listener
	cfg  *ssh.ServerConfig
	// monitor is the node's monitoring port, nil until the inventory is
	// known.
	monitor atomic.Pointer[nodeMonitor]
	// slots bounds the commands running at once across all hosts (shared);
	// a command waiting for its client's input gives its slot back (turn).
	slots chan struct{}
	// counts are the SSH requests the hosts answered (shared).
	counts *requestCounts
	mu     sync.Mutex
	procs  map[int]bool
	conns  map[net.Conn]bool
}

func (h *host) serve() {
	for {
		nc, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		h.conns[nc] = true
		h.mu.Unlock()
		go h.handleConn(nc)
	}
}

// close stops the listener, the connections and the commands still running.
func (h *host) close() {
	h.ln.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		c.Close()
	}
	for pid := range h.procs {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}

func (h *host) handleConn(nc net.Conn) {
	defer func() {
		nc.Close()
		h.mu.Lock()
		delete(h.conns, nc)
		h.mu.Unlock()
	}()
	_, chans, reqs, err := ssh.NewServerConn(nc, h.cfg)
	if err != nil {
		return
	}
	h.counts.logins.Add(1)
	go ssh.DiscardRequests(reqs)
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			go h.handleSession(nch)
		case "direct-tcpip":
			go h.handleDirectTCPIP(nch)
		default:
			nch.Reject(ssh.UnknownChannelType, "unsupported channel type")
		}
	}
}

// requestCounts are what the hosts were asked for: SSH logins, commands
// (exec requests) and sftp subsystems. A run's share of them says how many
// connections and round trips provision costs a host.
type requestCounts struct{ logins, execs, sftp atomic.Int64 }

func (c *requestCounts) String() string {
	return fmt.Sprintf("logins %d execs %d sftp %d", c.logins.Load(), c.execs.Load(), c.sftp.Load())
}

var signals = map[string]syscall.Signal{"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP}

func (h *host) handleSession(nch ssh.NewChannel) {
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	pid := 0
	for req := range reqs {
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			if pid != 0 || ssh.Unmarshal(req.Payload, &p) != nil {
				req.Reply(false, nil)
				continue
			}
			h.counts.execs.Add(1)
			cmd := h.command(p.Command)
			t := &turn{slots: h.slots, done: make(chan struct{}), wake: make(chan struct{}, 1)}
			t.take()
			wait := h.start(ch, cmd, t)
			if cmd.Process != nil {
				pid = cmd.Process.Pid
			}
			req.Reply(true, nil)
			go func() { wait(); t.end() }()
		case "subsystem":
			// The host's sftp-server: this program, serving SFTP inside the
			// host's tree (sftp.go). It is not a command taking turns: one
			// lives as long as the client's connection.
			var p struct{ Name string }
			if pid != 0 || ssh.Unmarshal(req.Payload, &p) != nil || p.Name != "sftp" {
				req.Reply(false, nil)
				continue
			}
			h.counts.sftp.Add(1)
			cmd := h.command("")
			cmd.Path, cmd.Args = sftpServerPath, []string{sftpServerPath}
			cmd.Env = append(cmd.Env, sftpEnv+"=1")
			wait := h.start(ch, cmd, nil)
			if cmd.Process != nil {
				pid = cmd.Process.Pid
			}
			req.Reply(true, nil)
			go wait()
		case "signal":
			var p struct{ Signal string }
			if ssh.Unmarshal(req.Payload, &p) == nil && pid != 0 {
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
}

// command runs as root in the host's tree, with the stubs first on PATH.
func (h *host) command(command string) *exec.Cmd {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=" + stubDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/sh", "LANG=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: h.root, Setpgid: true}
	// Output may take long to drain into a busy client's window: only a
	// command whose background children hold its output open is cut off.
	cmd.WaitDelay = time.Minute
	return cmd
}

// start starts cmd with the channel as its stdio. With a turn, its input
// goes through it: the command gives its slot back while it waits for input
// and takes one again before more arrives.
func (h *host) start(ch ssh.Channel, cmd *exec.Cmd, t *turn) (wait func()) {
	cmd.Stdout = ch
	if t != nil {
		cmd.Stdout = output{ch, t}
	}
	cmd.Stderr = ch.Stderr()
	r, w, err := os.Pipe()
	if err == nil {
		cmd.Stdin = r
		err = cmd.Start()
		r.Close()
	}
	if err != nil {
		if w != nil {
			w.Close()
		}
		return func() {
			io.WriteString(ch.Stderr(), "start: "+err.Error()+"\n")
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{127}))
			ch.Close()
		}
	}
	pid := cmd.Process.Pid
	h.mu.Lock()
	h.procs[pid] = true
	h.mu.Unlock()
	if t == nil {
		go func() {
			io.Copy(w, ch)
			w.Close()
		}()
	} else {
		t.pid, t.stdin = pid, w
		go t.watch()
		go t.feed(ch)
	}
	return func() {
		err := cmd.Wait()
		h.mu.Lock()
		delete(h.procs, pid)
		h.mu.Unlock()
		status := uint32(0)
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				status = 128 + uint32(ws.Signal())
			} else {
				status = uint32(ee.ExitCode())
			}
		default:
			io.WriteString(ch.Stderr(), "bench/sim host: "+err.Error()+"\n")
			status = 255
		}
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
		ch.Close()
	}
}

// handleDirectTCPIP answers a tunnelled connection to the node's monitoring
// port with one HTTP answer (dcctl's monitoring client sends one request
// per connection); any other port is refused, as no nats-server listens.
func (h *host) handleDirectTCPIP(nch ssh.NewChannel) {
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
	refuse := func() {
		nch.Reject(ssh.ConnectionFailed, "dial tcp "+net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port)))+": connect: connection refused")
	}
	mon := h.monitor.Load()
	if mon == nil || !mon.listens(int(p.Port)) {
		refuse()
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	go ssh.DiscardRequests(reqs)
	req, err := http.ReadRequest(bufio.NewReader(ch))
	if err != nil {
		return
	}
	mon.answer(req).Write(ch)
	ch.CloseWrite()
}
