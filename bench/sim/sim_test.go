package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/inventory"
)

func TestMain(m *testing.M) {
	// The simulation starts this test binary again as its hosts process,
	// and as the hosts' sftp-server.
	if os.Getenv(sftpEnv) == "1" {
		os.Exit(serveSFTP())
	}
	if v := os.Getenv(hostsEnv); v != "" {
		os.Exit(hostsMain(v))
	}
	os.Exit(m.Run())
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("bench/sim needs root: its hosts run in a private mount namespace, chrooted")
	}
}

// TestSimFiveHosts runs the bench as `go run ./bench/sim -hosts 5 -rounds 2`
// does: a fresh provision, then twice a run that must change nothing and
// the floor, with an RSA key for dcctl.
func TestSimFiveHosts(t *testing.T) {
	needRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var report strings.Builder
	res, err := simulate(ctx, simOptions{Hosts: 5, Rounds: 2, ClientKey: "rsa", runOptions: runOptions{Concurrency: 16, GateTimeout: time.Minute}, Report: &report})
	if err != nil {
		t.Fatalf("%v\n%s", err, report.String())
	}
	line, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]float64
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if len(got) != 4 || got["hosts"] != 5 || got["fresh_s"] <= 0 || got["noop_s"] <= 0 || got["peak_rss_mb"] <= 0 {
		t.Fatalf("JSON line %s: want hosts 5 and positive fresh_s, noop_s, peak_rss_mb, nothing else", line)
	}
	// What a no-op asks of a host, as the hosts counted it: one login and
	// one command, the lock's take with the facts in its session, which
	// stays and releases the lock at the end.
	noop := "5 hosts, noop: .*; per host 1 logins, 1 commands, 0 sftp sessions\n"
	if !regexp.MustCompile(noop).MatchString(report.String()) {
		t.Errorf("report lacks %q:\n%s", noop, report.String())
	}
	for _, want := range []string{"5 hosts, fresh:", "5 hosts, noop2:", "simulated hosts used", "sshd side", "load average "} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
	if n := strings.Count(report.String(), "one-round-trip floor: "); n != 2 {
		t.Errorf("report has %d floor lines, want one per round (2):\n%s", n, report.String())
	}
}

// TestSimNoticesAChangedHost: a host changed behind provision's back
// between the runs makes the second run a change, which the bench reports
// as an error instead of a no-op time. Its uploads go over exec (the other
// test's over SFTP).
func TestSimNoticesAChangedHost(t *testing.T) {
	needRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err := simulate(ctx, simOptions{Hosts: 2, Transfer: "exec", runOptions: runOptions{Concurrency: 16, GateTimeout: time.Minute},
		betweenRuns: func(dir string) error {
			return os.Chmod(filepath.Join(dir, "hosts", "h0001", "etc/nats/nats-server.conf"), 0o644)
		}})
	if err == nil || !strings.Contains(err.Error(), "not a no-op") || !strings.Contains(err.Error(), "n0001") {
		t.Fatalf("err = %v, want the second run reported as not a no-op on n0001", err)
	}
}

// TestInventoryAtScale: the generated inventory of 1000 nodes is valid (as
// `dcctl validate` sees it) and has the shape the bench documents.
func TestInventoryAtScale(t *testing.T) {
	for _, n := range []int{2, 5, 6, 9, 10, 11, 12, 100, 1000} {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "bin", "nats-server"), []byte("stub"), 0o755); err != nil {
			t.Fatal(err)
		}
		ports := make([]int, n)
		for i := range ports {
			ports[i] = 40000 + i
		}
		pub, err := writeKeys(dir, "ed25519")
		if err != nil {
			t.Fatal(err)
		}
		path, err := writeInventory(dir, ports, pub, "exec")
		if err != nil {
			t.Fatal(err)
		}
		inv, err := inventory.Load(path)
		if err != nil {
			t.Fatalf("%d hosts: %v", n, err)
		}
		// Written "long ago", as an operator's is: dcctl parses a file
		// modified in the last 2 s again at every dial.
		st, err := os.Stat(filepath.Join(dir, "known_hosts"))
		if err != nil {
			t.Fatal(err)
		}
		if age := time.Since(st.ModTime()); age < time.Minute {
			t.Fatalf("%d hosts: known_hosts modified %v ago, want it written long before the runs", n, age)
		}
		if len(inv.Nodes) != n {
			t.Fatalf("%d hosts: inventory has %d nodes", n, len(inv.Nodes))
		}
		leaves := 0
		for _, cl := range inv.Clusters {
			if len(cl.Nodes) < 2 || len(cl.Nodes) > 6 {
				t.Errorf("%d hosts: cluster %s has %d nodes", n, cl.Name, len(cl.Nodes))
			}
			if cl.LeafOf != "" {
				leaves++
			}
		}
		if n >= 11 && leaves == 0 {
			t.Errorf("%d hosts: no leaf cluster", n)
		}
		if len(inv.DCs()) != min(n, 2) {
			t.Errorf("%d hosts: DCs %v, want 2", n, inv.DCs())
		}
	}
}
