package status

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/sshtest"
	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/jetstream"
	"github.com/dcctl/dcctl/provision"
	"github.com/dcctl/dcctl/remote"
)

// handshakeCut is the error of a real SSH dial to a host whose sshd takes
// the TCP connection and closes it (as a host going down, or cut off,
// does): "connect to NODE (root@ADDR) with key "PATH" and agent "": ssh:
// handshake failed: EOF". It returns the error and the key file's path.
func handshakeCut(t *testing.T, node string) (error, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dir := t.TempDir()
	keyFile, _ := sshtest.ClientKey(t, dir)
	known := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(known, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = remote.Dial(context.Background(), remote.Config{Name: node, Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port,
		User: "root", KeyFile: keyFile, KnownHosts: known, DialTimeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), keyFile) {
		t.Fatalf("dial to a host that closes the connection: %v, want an error naming the key", err)
	}
	return err, keyFile
}

// TestCutDCSaysSSHInAFewWords: a DC whose hosts SSH does not reach (down,
// or cut off from here). Its servers' monitoring ports are read through
// SSH, so they were never asked: the DC table said "the silent server does
// not answer", and the DC's view warning embedded the raw chain (`Get
// "http://127.0.0.1:18222/jsz": connect to core-b3 (root@...) with key
// "/.../lab_ed25519" and agent "": ssh: handshake failed: EOF`). Now the
// table says they were not asked and why, and the warning names each host
// "SSH to NODE (HOST): CAUSE", without the key's path.
func TestCutDCSaysSSHInAFewWords(t *testing.T) {
	inv, err := inventory.Load(testcluster.WriteInventory(t, testcluster.Other()))
	if err != nil {
		t.Fatal(err)
	}
	cl := inv.Cluster("CORE")
	units := map[string]unitResult{}
	nr := &natsResult{}
	sides := &sideResult{views: map[string][]SideView{}, answered: map[string]bool{}}
	var keyFile string
	for _, n := range cl.Nodes {
		if n.DC == "nyc" {
			var dialErr error
			dialErr, keyFile = handshakeCut(t, n.Name)
			units[n.Name] = unitResult{err: dialErr}
			continue
		}
		units[n.Name] = unitResult{state: provision.UnitState{Load: "loaded", Active: "active", Sub: "running"}}
		nr.servers = append(nr.servers, jetstream.Server{Name: n.Name, Domain: "central"})
		sides.answered[n.Name] = true
	}
	// What collectSides keeps of a DC none of whose servers answered: the
	// monitoring read's error, through the tunnel that could not be dialled.
	_, viewErr := jetstream.Monitor{Get: func(context.Context, string, string) ([]byte, error) {
		return nil, units["core-b2"].err
	}, Servers: func(string) []string { return []string{"core-b1", "core-b2"} }}.Meta(context.Background(), "central")
	sides.views["central"] = []SideView{{DC: "nyc", Answered: []string{}, Error: viewErr.Error(), err: viewErr},
		{DC: "fra", Answered: []string{"core-a1", "core-a2", "core-a3"}, MetaLeader: "core-a1", ClusterSize: 5, Quorum: 3, HealthyPeers: 3}}
	r := &Report{Domains: []*Domain{buildDomain(inv, cl, nr, units, sides)}}
	r.DCs = dcSummary(r, true)
	r.Warnings = warnings(inv, r)

	var b strings.Builder
	r.dcTable().write(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.Contains(line, " nyc ") && !strings.Contains(line, "not asked: SSH fails to all 2") {
			t.Errorf("DC table row of nyc: %s\nwant its Monitoring cell to say the servers were not asked", line)
		}
	}
	view := ""
	for _, w := range r.Warnings {
		if strings.Contains(w.Message, "as seen from DC nyc") {
			view = w.Message
		}
		if strings.Contains(w.Message, keyFile) || strings.Contains(w.Message, "handshake failed") {
			t.Errorf("a warning carries the raw SSH error: %s", w.Message)
		}
	}
	for _, want := range []string{"SSH to core-b1 (" + inv.Node("core-b1").Host + "): the connection was closed", "SSH to core-b2 (" + inv.Node("core-b2").Host + "): the connection was closed"} {
		if !strings.Contains(view, want) {
			t.Errorf("the nyc view warning lacks %q: %q", want, view)
		}
	}
	// Without units (no SSH dialled before), the gist of the view's own error.
	delete(units, "core-b1")
	delete(units, "core-b2")
	d := buildDomain(inv, cl, nr, units, sides)
	if got := viewCause(d, sides.views["central"][0]); got != "the connection was closed" {
		t.Errorf("view cause without unit errors: %q", got)
	}
}
