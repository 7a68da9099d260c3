package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// tunnels keeps one SSH connection per lab host (as root, the lab key, the
// lab's known_hosts) for reaching what listens on a host's loopback, such
// as the monitoring endpoints: the tests' own path, not dcctl's.
type tunnels struct {
	mu      sync.Mutex
	clients map[string]*ssh.Client
}

var labTunnels = &tunnels{clients: map[string]*ssh.Client{}}

// dial opens a connection to target (host:port as the host sees it)
// through host. A stale connection (the host restarted) is dialled again.
func (t *tunnels) dial(ctx context.Context, host, target string) (net.Conn, error) {
	for attempt := 0; attempt < 2; attempt++ {
		c, err := t.client(ctx, host)
		if err != nil {
			return nil, err
		}
		conn, err := c.DialContext(ctx, "tcp", target)
		if err == nil {
			return conn, nil
		}
		t.mu.Lock()
		if t.clients[host] == c {
			delete(t.clients, host)
		}
		t.mu.Unlock()
		c.Close()
		if attempt == 1 || ctx.Err() != nil {
			return nil, fmt.Errorf("through ssh to %s: %w", host, err)
		}
	}
	return nil, nil
}

func (t *tunnels) client(ctx context.Context, host string) (*ssh.Client, error) {
	t.mu.Lock()
	c := t.clients[host]
	t.mu.Unlock()
	if c != nil {
		return c, nil
	}
	lab := filepath.Join(repoRoot(), "lab")
	key, err := os.ReadFile(filepath.Join(lab, "id_ed25519"))
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		return nil, err
	}
	hk, err := knownhosts.New(filepath.Join(lab, "known_hosts"))
	if err != nil {
		return nil, err
	}
	cfg := &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: 5 * time.Second}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, "22"))
	if err != nil {
		return nil, err
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, host+":22", cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c = ssh.NewClient(sc, chans, reqs)
	t.mu.Lock()
	if old := t.clients[host]; old != nil {
		t.mu.Unlock()
		c.Close()
		return old, nil
	}
	t.clients[host] = c
	t.mu.Unlock()
	return c, nil
}
