package lock

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/sshtest"
	"github.com/dcctl/dcctl/remote"
)

// TestHostLostMidRunIsSaidOnceInWords: a host whose sshd goes away while
// the run holds the lock (powered off mid-run). The heartbeat said, at every
// refresh and again at the release, `could not refresh the deployment
// lock's heartbeat: h01: open session for "set -e ...": EOF (reconnecting:
// connect to h01 (...) with key "/.../id" ...)`. Now: the host, that it does
// not answer, and why in a few words; once, not at every heartbeat.
func TestHostLostMidRunIsSaidOnceInWords(t *testing.T) {
	ctx := ctxT(t)
	hosts := sshHosts(t, 3)
	lost := hosts[1].(sshHost)
	var n notices
	dir := t.TempDir()
	keyFile, _ := sshtest.ClientKey(t, dir)
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	redial := func(ctx context.Context, name string) (Host, error) {
		// The run's own redial: a fresh connection to the host's sshd.
		c, err := remote.Dial(ctx, remote.Config{Name: name, Host: "127.0.0.1", Port: lost.srv.Port(), User: "dcctl",
			KeyFile: keyFile, KnownHosts: knownHosts, DialTimeout: 2 * time.Second})
		if err != nil {
			return nil, err
		}
		return sshHost{Client: c, root: lost.root, srv: lost.srv}, nil
	}
	l, err := Acquire(ctx, hosts, holder("alice@ops1"), Options{Path: testPath, Heartbeat: time.Hour, Expiry: time.Minute, Notice: n.add, Redial: redial})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	clock := t0
	l.mu.Lock()
	l.now = func() time.Time { return clock }
	l.mu.Unlock()
	lost.srv.Drop()

	for _, at := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second} {
		clock = t0.Add(at)
		l.beat()
	}
	text := n.text()
	if strings.Count(text, "h01 does not answer over SSH (") != 1 {
		t.Errorf("want h01 said once as not answering, got:\n%s", text)
	}
	for _, internal := range []string{"open session", "set -e", keyFile, "could not refresh"} {
		if strings.Contains(text, internal) {
			t.Errorf("notices show %q:\n%s", internal, text)
		}
	}
	if err := l.Err(); err != nil {
		t.Fatalf("lost after 20s of a 1m expiry: %v", err)
	}
	err = l.Release(ctx)
	if err == nil {
		t.Fatal("release reached h01, whose sshd is gone")
	}
	msg := err.Error()
	if !strings.Contains(msg, "h01 does not answer over SSH (") || !strings.Contains(msg, "expires 1m0s after its last heartbeat") {
		t.Errorf("release: %v", err)
	}
	for _, internal := range []string{"open session", "set -e", keyFile} {
		if strings.Contains(msg, internal) {
			t.Errorf("release error shows %q: %v", internal, err)
		}
	}
	t.Logf("notices:\n%s\nrelease: %v", text, err)
}
