package remote

import (
	"net"
	"os"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/sshtest"
)

func TestDialAllSharesKnownHostsAcrossParallelAccepts(t *testing.T) {
	e := newTestEnv(t)
	servers := []*sshtest.Server{e.srv, sshtest.NewServer(t, e.clientKey.PublicKey()), sshtest.NewServer(t, e.clientKey.PublicKey()), sshtest.NewServer(t, e.clientKey.PublicKey())}
	var cfgs []Config
	for _, s := range servers {
		cfg := e.config(s)
		cfg.AcceptNewHostKeys = true
		cfgs = append(cfgs, cfg)
	}
	// One that cannot be reached, and one listed twice.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	deadPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dead := e.config(e.srv)
	dead.Name, dead.Port = "dead", deadPort
	dup := cfgs[0]
	cfgs = append(cfgs, dead, dup)

	clients, failed := DialAll(t.Context(), cfgs, 2)
	defer CloseAll(clients)

	// A name listed twice is refused in both entries (which host was meant?),
	// so 3 of the 4 servers are dialled.
	if len(clients) != 3 {
		t.Fatalf("got %d clients, want 3 (failures: %v)", len(clients), failed)
	}
	if failed["dead"] == nil || !strings.Contains(failed["dead"].Error(), "dead") {
		t.Errorf("unreachable host: got %v", failed["dead"])
	}
	if err := failed[dup.Name]; err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicated name: got %v", err)
	}
	for name, c := range clients {
		if out, _, err := c.Run(t.Context(), "echo ok"); err != nil || string(out) != "ok\n" {
			t.Errorf("%s: Run = %q, %v", name, out, err)
		}
	}
	// Each of the 3 parallel accepts appended its line intact.
	data, err := os.ReadFile(e.knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 {
		t.Fatalf("known_hosts has %d lines, want 3:\n%s", len(lines), data)
	}
	for _, l := range lines {
		if f := strings.Fields(l); len(f) != 3 || f[1] != "ssh-ed25519" {
			t.Errorf("malformed known_hosts line %q", l)
		}
	}
}
