package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Config says how to reach one host.
type Config struct {
	Name string // node name, used in every message about this host
	Host string
	Port int // default 22
	User string

	KeyFile string // private key file; may be "" when the agent holds the key
	// Keys, if not nil, parses KeyFile once for every dial that shares it.
	Keys        *KeyFiles
	AgentSocket string // ssh-agent socket, normally $SSH_AUTH_SOCK; "" for none

	KnownHosts        string        // known_hosts file (required)
	HostKeys          *HostKeyStore // optional: share one store between parallel dials of the same file
	AcceptNewHostKeys bool          // trust on first use: append unknown host keys to KnownHosts
	// HostKeyAdded is told of every key AcceptNewHostKeys appends, to show
	// the operator what was trusted; nil for none.
	HostKeyAdded func(AddedHostKey)

	Sudo bool // run commands through `sudo -n` (non-root User with passwordless sudo)

	// Transfer is how Put sends content: TransferSFTP ("" too) or
	// TransferExec. SFTP falls back to exec on a host without an sftp-server.
	Transfer string
	// Log gets one line when SFTP falls back to exec on this host (the
	// operator's stderr); nil for none.
	Log func(line string)

	DialTimeout time.Duration // TCP connect plus SSH handshake; default 10s
	// KeepAlive is how often an idle connection is probed; a probe unanswered
	// for as long again closes the connection, so that commands on a host that
	// vanished (a partition drill) fail instead of hanging. Default 15s;
	// negative disables.
	KeepAlive time.Duration
}

const (
	defaultDialTimeout = 10 * time.Second
	defaultKeepAlive   = 15 * time.Second
	// maxSessions bounds concurrent commands on one connection: OpenSSH's
	// MaxSessions defaults to 10 and refuses the eleventh channel.
	maxSessions = 8
)

// Client is one SSH connection to a host. It is safe for concurrent use:
// several goroutines may Run and Put at once.
type Client struct {
	name     string
	user     string
	sudo     bool
	conn     *ssh.Client
	sessions chan struct{} // semaphore, see maxSessions
	streams  chan struct{} // the one Stream a client may hold (stream.go)
	done     chan struct{} // closed by Close: stops the keepalive
	// keepAlive fires the next probe of the connection (nil: none).
	keepAlive *time.Timer
	silent    atomic.Bool // the keepalive closed the connection: explains later errors
	transfer  string      // TransferSFTP or TransferExec
	log       func(string)
	sftp      sftpConn
}

// Name is the node name the client was dialled for.
func (c *Client) Name() string { return c.name }

// Dial connects to cfg's host, verifies its host key and authenticates.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.Host == "" || cfg.User == "" {
		return nil, fmt.Errorf("connect to %s: host and user must be set", cfg.Name)
	}
	if cfg.Transfer != TransferSFTP && cfg.Transfer != TransferExec {
		return nil, fmt.Errorf("connect to %s: transfer %q: must be %q or %q", cfg.Name, cfg.Transfer, TransferSFTP, TransferExec)
	}
	if cfg.KnownHosts == "" && cfg.HostKeys == nil {
		return nil, fmt.Errorf("connect to %s: no known_hosts file set: host keys must be verified", cfg.Name)
	}
	store := cfg.HostKeys
	if store == nil {
		store = NewHostKeyStore(cfg.KnownHosts)
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))

	auth, closeAgent, err := authMethod(cfg)
	if err != nil {
		return nil, err
	}
	defer closeAgent()
	algos, err := store.algorithms(addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s (%s): %w", cfg.Name, addr, err)
	}
	sshCfg := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              []ssh.AuthMethod{auth},
		HostKeyCallback:   store.callback(cfg.Name, cfg.AcceptNewHostKeys, cfg.HostKeyAdded),
		HostKeyAlgorithms: algos,
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	tcp, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s (%s): %w", cfg.Name, addr, err)
	}
	// The handshake has no context of its own: closing the socket is how a
	// deadline or cancellation interrupts it.
	stop := context.AfterFunc(ctx, func() { tcp.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(tcp, addr, sshCfg)
	if !stop() {
		if err == nil {
			sc.Close()
		}
		return nil, fmt.Errorf("connect to %s (%s): ssh handshake: %w", cfg.Name, addr, context.Cause(ctx))
	}
	if err != nil {
		tcp.Close()
		return nil, handshakeError(cfg, addr, err)
	}
	c := &Client{
		name:     cfg.Name,
		user:     cfg.User,
		sudo:     cfg.Sudo,
		transfer: cfg.Transfer,
		log:      cfg.Log,
		conn:     ssh.NewClient(sc, chans, reqs),
		sessions: make(chan struct{}, maxSessions),
		streams:  make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	if cfg.KeepAlive > 0 {
		c.startKeepAlive(cfg.KeepAlive)
	}
	return c, nil
}

// Close closes the connection and everything running over it.
func (c *Client) Close() error {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	if c.keepAlive != nil {
		c.keepAlive.Stop()
	}
	c.closeSFTP()
	if err := c.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close connection to %s: %w", c.name, err)
	}
	return nil
}

// explain adds why the connection is gone when the keepalive closed it, and
// that it is gone when the error says only EOF (the host's sshd, or the
// network, closed it while dcctl was using it).
func (c *Client) explain(err error) error {
	if c.silent.Load() {
		return fmt.Errorf("%w (connection closed: the host stopped answering keepalives)", err)
	}
	select {
	case <-c.done:
		return err // closed by dcctl itself
	default:
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w (the SSH connection was lost: the host's sshd or the network closed it)", err)
	}
	return err
}

func (cfg Config) withDefaults() Config {
	if cfg.Port == 0 {
		cfg.Port = 22
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Host
	}
	if cfg.Transfer == "" {
		cfg.Transfer = TransferSFTP
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = defaultKeepAlive
	}
	return cfg
}

// handshakeError keeps host key errors as they are (they name the host and
// say what to do) and adds the host and the auth setup to anything else.
func handshakeError(cfg Config, addr string, err error) error {
	var unknown *UnknownHostKeyError
	var changed *HostKeyChangedError
	var revoked *RevokedHostKeyError
	switch {
	case errors.As(err, &unknown):
		return unknown
	case errors.As(err, &changed):
		return changed
	case errors.As(err, &revoked):
		return revoked
	}
	return fmt.Errorf("connect to %s (%s@%s) with key %q and agent %q: %w",
		cfg.Name, cfg.User, addr, cfg.KeyFile, cfg.AgentSocket, err)
}

// authMethod offers the key file first, then every key the agent holds. The
// returned func closes the agent connection once the handshake is done.
func authMethod(cfg Config) (ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	var keyErr, agentErr error
	closeAgent := func() {}

	if cfg.AgentSocket != "" {
		conn, err := net.Dial("unix", cfg.AgentSocket)
		if err == nil {
			closeAgent = func() { conn.Close() }
			var agentSigners []ssh.Signer
			agentSigners, err = agent.NewClient(conn).Signers()
			signers = append(signers, agentSigners...)
		}
		if err != nil {
			agentErr = fmt.Errorf("ssh-agent at %s: %w", cfg.AgentSocket, err)
		}
	}
	if cfg.KeyFile != "" {
		signer, err := cfg.Keys.load(cfg.KeyFile)
		if err != nil {
			keyErr = err
		} else {
			signers = append([]ssh.Signer{signer}, signers...)
		}
	}
	if len(signers) == 0 {
		closeAgent()
		switch {
		case keyErr != nil:
			return nil, nil, fmt.Errorf("connect to %s: %w", cfg.Name, errors.Join(keyErr, agentErr))
		case agentErr != nil:
			return nil, nil, fmt.Errorf("connect to %s: no key file set and %w", cfg.Name, agentErr)
		default:
			return nil, nil, fmt.Errorf("connect to %s: no SSH key: set ssh_key or load the key into ssh-agent (SSH_AUTH_SOCK)", cfg.Name)
		}
	}
	// An unusable key file is not fatal when the agent has keys: the agent
	// may well hold that very key, unlocked.
	return ssh.PublicKeysCallback(func() ([]ssh.Signer, error) { return signers, nil }), closeAgent, nil
}

func loadKey(path string) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read SSH key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("SSH key %s is protected by a passphrase and dcctl does not prompt for it: "+
			"load it into ssh-agent (ssh-add %s) and make sure SSH_AUTH_SOCK is set", path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("parse SSH key %s: %w", path, err)
	}
	return signer, nil
}

// startKeepAlive arms the first probe. Between probes a client holds a
// timer, not a goroutine: at a thousand hosts a goroutine each was a
// thousand stacks for the garbage collector to scan in every cycle, to
// wait on a tick every 15 s.
func (c *Client) startKeepAlive(interval time.Duration) {
	// Armed once assigned, so that a probe always finds its timer.
	c.keepAlive = time.AfterFunc(time.Hour, func() { c.probe(interval) })
	c.keepAlive.Reset(interval)
}

// probe asks the host for an answer, and closes the connection when none
// comes within interval; after an answer, the next probe is interval after
// this one began (a ticker's rhythm).
func (c *Client) probe(interval time.Duration) {
	if c.closed() {
		return
	}
	began := time.Now()
	silent := time.AfterFunc(interval, func() {
		if !c.closed() {
			c.silent.Store(true)
		}
		c.conn.Close()
	})
	// Servers answer unknown requests with a failure, which is an answer.
	_, _, err := c.conn.SendRequest("keepalive@openssh.com", true, nil)
	if !silent.Stop() || err != nil || c.closed() {
		return // closed for silence, gone already, or closed by dcctl
	}
	c.keepAlive.Reset(max(interval-time.Since(began), 0))
}

// closed reports whether Close was called.
func (c *Client) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}
