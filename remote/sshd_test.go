package remote

// Test fixture: a client key, a known_hosts file and an in-process sshd
// (internal/sshtest) that knows the key.

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/sshtest"
	"golang.org/x/crypto/ssh"
)

// TestMain lets the test binary double as the sftp-server stand-in that
// sshtest.SFTPServerStandIn starts on the "host".
func TestMain(m *testing.M) {
	sshtest.ServeSFTPIfAsked()
	os.Exit(m.Run())
}

// testEnv is a client key on disk, a known_hosts path and a server that
// knows the key.
type testEnv struct {
	dir        string
	keyFile    string
	clientKey  ssh.Signer
	knownHosts string
	srv        *sshtest.Server
}

func newTestEnv(t testing.TB, hostKeys ...ssh.Signer) *testEnv {
	t.Helper()
	dir := t.TempDir()
	keyFile, signer := sshtest.ClientKey(t, dir)
	e := &testEnv{dir: dir, keyFile: keyFile, clientKey: signer, knownHosts: filepath.Join(dir, "ssh", "known_hosts")}
	e.srv = sshtest.NewServer(t, signer.PublicKey(), hostKeys...)
	return e
}

// trust writes the server's first host key into known_hosts.
func (e *testEnv) trust(t testing.TB, srv *sshtest.Server) {
	t.Helper()
	sshtest.WriteKnownHost(t, e.knownHosts, srv.Addr, srv.HostKeys[0].PublicKey())
}

func (e *testEnv) config(srv *sshtest.Server) Config {
	return Config{
		Name:        "node-" + strconv.Itoa(srv.Port()),
		Host:        "127.0.0.1",
		Port:        srv.Port(),
		User:        "dcctl",
		KeyFile:     e.keyFile,
		KnownHosts:  e.knownHosts,
		DialTimeout: 5 * time.Second,
	}
}

// dial connects to the env's server with its key trusted.
func (e *testEnv) dial(t testing.TB, mutate ...func(*Config)) *Client {
	t.Helper()
	if _, err := os.Stat(e.knownHosts); err != nil {
		e.trust(t, e.srv)
	}
	cfg := e.config(e.srv)
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := Dial(t.Context(), cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
