package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/sshtest"
	"github.com/dcctl/dcctl/internal/testwait"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// serveAgent runs x/crypto's ssh-agent implementation on a unix socket
// holding key, as ssh-agent would after ssh-add.
func serveAgent(t *testing.T, key any) string {
	t.Helper()
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: key}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(keyring, conn); conn.Close() }()
		}
	}()
	return sock
}

// newProtectedKey writes a passphrase-protected key and returns its path,
// the raw key and a server that accepts it.
func newProtectedKey(t *testing.T) (string, ed25519.PrivateKey, *testEnv) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_protected")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, _ := ssh.NewPublicKey(priv.Public())
	e := newTestEnv(t)
	srv := sshtest.NewServer(t, pub)
	e.srv = srv
	e.trust(t, srv)
	return path, priv, e
}

// One test for both cases: encrypting the key (bcrypt KDF) is the slow part.
func TestPassphraseProtectedKey(t *testing.T) {
	path, priv, e := newProtectedKey(t)

	t.Run("without agent, says to use the agent", func(t *testing.T) {
		cfg := e.config(e.srv)
		cfg.KeyFile = path
		_, err := Dial(t.Context(), cfg)
		if err == nil || !strings.Contains(err.Error(), "passphrase") || !strings.Contains(err.Error(), "ssh-add "+path) {
			t.Fatalf("dial with a protected key and no agent: got %v, want advice to ssh-add it", err)
		}
	})

	sock := serveAgent(t, priv)
	for name, keyFile := range map[string]string{"agent only": "", "protected key file and agent": path} {
		t.Run(name, func(t *testing.T) {
			cfg := e.config(e.srv)
			cfg.KeyFile, cfg.AgentSocket = keyFile, sock
			c, err := Dial(t.Context(), cfg)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.Close()
			if out, _, err := c.Run(t.Context(), "echo ok"); err != nil || string(out) != "ok\n" {
				t.Fatalf("Run = %q, %v", out, err)
			}
		})
	}
}

func TestWrongKeyIsRefusedWithContext(t *testing.T) {
	e := newTestEnv(t)
	other := newTestEnv(t) // a key the server does not know
	e.trust(t, e.srv)
	cfg := e.config(e.srv)
	cfg.KeyFile = other.keyFile
	_, err := Dial(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") || !strings.Contains(err.Error(), "dcctl@") {
		t.Fatalf("dial with an unknown key: got %v, want an auth error naming the user", err)
	}
}

func TestDialTimeoutOnASilentServer(t *testing.T) {
	e := newTestEnv(t)
	// Accepts TCP and never speaks SSH.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	cfg := e.config(e.srv)
	cfg.Port = ln.Addr().(*net.TCPAddr).Port
	cfg.DialTimeout = 200 * time.Millisecond
	// The caller's own deadline is far beyond DialTimeout: if DialTimeout
	// did not cut the handshake, the dial would hang until ctx ends and
	// the check on ctx below fails (or, without it, the test's timeout).
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err = Dial(ctx, cfg)
	if err == nil {
		t.Fatal("dial of a silent server succeeded")
	}
	if ctx.Err() != nil {
		t.Fatalf("dial of a silent server ended with the caller's deadline, not DialTimeout: %v", err)
	}
	if !strings.Contains(err.Error(), "handshake") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %q does not say the handshake timed out", err)
	}
}

func TestDialRequiresKnownHosts(t *testing.T) {
	e := newTestEnv(t)
	cfg := e.config(e.srv)
	cfg.KnownHosts = ""
	if _, err := Dial(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "known_hosts") {
		t.Fatalf("dial without known_hosts: got %v", err)
	}
	var unknown *UnknownHostKeyError
	if errors.As(err0(Dial(t.Context(), e.config(e.srv))), &unknown) == false {
		t.Fatal("dial with an empty known_hosts should refuse the host as unknown")
	}
}

func err0(_ *Client, err error) error { return err }

// A host that goes silent (a partition) must not leave commands hanging for
// the kernel's TCP timeout: the keepalive closes the connection.
func TestKeepAliveClosesASilentConnection(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t, func(cfg *Config) { cfg.KeepAlive = 100 * time.Millisecond })
	if _, _, err := c.Run(t.Context(), "true"); err != nil {
		t.Fatal(err)
	}
	e.srv.Freeze()
	// Without the keepalive the Run would wait on the frozen host until the
	// caller's deadline (far beyond the keepalive's 100ms), and end with
	// ctx's error instead of the keepalive's.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, _, err := c.Run(ctx, "sleep 30")
	if err == nil {
		t.Fatal("Run on a silent host succeeded")
	}
	if ctx.Err() != nil || !strings.Contains(err.Error(), "keepalive") {
		t.Fatalf("Run on a silent host: %v (caller's ctx: %v), want the keepalive to close it", err, ctx.Err())
	}
}

// A host that answers keeps its connection: the keepalive probes it again
// and again (the next probe armed after each answer), and commands still run.
func TestKeepAliveKeepsAnAnsweringConnection(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t, func(cfg *Config) { cfg.KeepAlive = 20 * time.Millisecond })
	before := e.srv.KeepAlives()
	testwait.Eventually(t, 10*time.Second, "three keepalives answered", func() error {
		if n := e.srv.KeepAlives() - before; n < 3 {
			return fmt.Errorf("%d keepalives so far", n)
		}
		return nil
	})
	if out, _, err := c.Run(t.Context(), "echo alive"); err != nil || strings.TrimSpace(string(out)) != "alive" {
		t.Fatalf("Run after keepalives: %q, %v", out, err)
	}
}

// Between probes a client holds a timer, not a goroutine of its own: at a
// thousand hosts a goroutine each is a thousand stacks for every garbage
// collection to scan.
func TestKeepAliveHoldsNoGoroutine(t *testing.T) {
	e := newTestEnv(t)
	e.dial(t, func(cfg *Config) { cfg.KeepAlive = time.Hour })
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, g := range strings.Split(stacks, "\n\n") {
		// Dialled and idle, no goroutine of package remote's is left (the
		// connection's own are x/crypto's).
		if strings.Contains(g, "created by github.com/dcctl/dcctl/remote.") || strings.Contains(g, "remote.(*Client).") {
			t.Fatalf("a goroutine of package remote's waits while the client is idle:\n%s", g)
		}
	}
}
