package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/runbooks"
)

// TestInterruptWhileWaitingOnAHost builds dcctl, starts a runbook whose
// first pre-check waits on a host gone silent (a TCP peer that accepts and
// never answers the SSH handshake), and sends it SIGINT (then, in a second
// run, SIGTERM) once it waits there: it must exit 130, say it was
// interrupted, and close its journal with an "interrupted" entry.
func TestInterruptWhileWaitingOnAHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the dcctl binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dcctl")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(signalName(sig), func(t *testing.T) { interruptSilentWait(t, bin, t.TempDir(), sig) })
	}
	t.Run("closed stdout", func(t *testing.T) { closedStdout(t, bin) })
}

// closedStdout: output piped into a reader that went away (`| head -1`)
// must not kill dcctl by SIGPIPE in the middle of a run: it would leave the
// deployment lock behind until it expires. The run carries on, its output
// lost.
func closedStdout(t *testing.T, bin string) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer w.Close()
	cmd := exec.Command(bin, "runbook", "list")
	cmd.Stdout = w
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dcctl runbook list into a closed pipe: %v (want exit 0: the run goes on)\n%s", err, stderr.String())
	}
}

// interruptSilentWait runs the scenario of TestInterruptWhileWaitingOnAHost
// with one signal.
func interruptSilentWait(t *testing.T, bin, dir string, sig os.Signal) {
	// every address: the nodes are hosts 127.0.0.1-3 (one host runs one node)
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	waiting := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
			once.Do(func() { close(waiting) })
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()

	inv := silentInventory(t, dir, ln.Addr().(*net.TCPAddr).Port)
	cmd := exec.Command(bin, "runbook", "rolling-restart", "--dry-run", "-i", inv, "--ssh-timeout", "10m")
	cmd.Env = append(os.Environ(), "DCCTL_PASSWORD_APPUSER=app-secret-1", "DCCTL_PASSWORD_SYSUSER=sys-secret-1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	journal := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "journal: "); ok {
				journal <- p
			}
		}
		exited <- cmd.Wait()
	}()
	deadline := time.After(2 * time.Minute) // a bound for a hung test, not a timing assertion
	var jpath string
	for jpath == "" {
		select {
		case jpath = <-journal:
		case err := <-exited:
			t.Fatalf("dcctl ended before it waited on the host: %v\n%s", err, stderr.String())
		case <-deadline:
			cmd.Process.Kill()
			t.Fatal("dcctl never printed its journal")
		}
	}
	select {
	case <-waiting:
	case <-deadline:
		cmd.Process.Kill()
		t.Fatal("dcctl never connected to the host")
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-exited:
	case <-deadline:
		cmd.Process.Kill()
		t.Fatalf("dcctl did not stop after SIGINT\n%s", stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit: %v, want %d\n%s", err, exitInterrupted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted ("+signalName(sig)+")") {
		t.Errorf("stderr does not say it was interrupted:\n%s", stderr.String())
	}
	entries, err := runbooks.ReadJournal(jpath)
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if last.Phase != "run" || last.Result != "interrupted" || !strings.Contains(last.Error, signalName(sig)) {
		t.Fatalf("journal's last entry %+v, want the run interrupted by %s", last, signalName(sig))
	}
}

// silentInventory writes an inventory of one 3-node cluster whose hosts are
// 127.0.0.1-3:port, with a client key, an empty known_hosts and a stand-in
// server binary beside it.
func silentInventory(t *testing.T, dir string, port int) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"id_test":     pem.EncodeToMemory(block),
		"known_hosts": nil,
		"nats-server": []byte("#!/bin/sh\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[defaults]\nssh_port = %d\nssh_key = \"id_test\"\nknown_hosts = \"known_hosts\"\n\n", port)
	b.WriteString("[nats]\nbinary = \"nats-server\"\n\n[accounts.APP]\njetstream = true\nusers = [\"appuser\"]\n\n[accounts.SYS]\nsystem = true\nusers = [\"sysuser\"]\n\n")
	b.WriteString("[clusters.C1]\ndomain = \"d1\"\n\n")
	for i := 1; i <= 3; i++ {
		// Never listened on: the run stops before it reaches NATS.
		fmt.Fprintf(&b, "[nodes.n%d]\ncluster = \"C1\"\ndc = \"x\"\nhost = \"127.0.0.%d\"\nclient_port = %d\ncluster_port = %d\nleafnode_port = %d\nhttp_port = %d\n\n",
			i, i, 14220+i, 16220+i, 17420+i, 18220+i)
	}
	p := filepath.Join(dir, "inventory.toml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// the deployment's CA, as provision leaves it: without it the run would
	// stop before dialling anything
	inv, err := inventory.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pki.Prepare(inv, time.Now())
	if err == nil {
		err = m.Save()
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}
