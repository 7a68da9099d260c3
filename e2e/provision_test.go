package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testwait"
)

// These tests judge provision by what the hosts and servers report
// themselves (systemctl over ssh, /healthz and /jsz over HTTP), never
// through dcctl's own checks.

const natsHTTPPort = 8222

// httpGet fetches a monitoring endpoint of a lab host. The endpoint listens
// on the host's 127.0.0.1 only, so the request goes through an SSH
// connection of the test's own (the lab key) to that host.
func httpGet(ctx context.Context, addr string, port int, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	if err != nil {
		return 0, nil, err
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, target string) (net.Conn, error) {
			return labTunnels.dial(ctx, addr, target)
		}}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// metaLeaderSeenBy asks one server's /jsz who leads its meta group.
func metaLeaderSeenBy(addr string, port int) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	code, body, err := httpGet(ctx, addr, port, "/jsz")
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("/jsz answered %d", code)
	}
	var jsz struct {
		Meta *struct {
			Leader string `json:"leader"`
		} `json:"meta_cluster"`
	}
	if err := json.Unmarshal(body, &jsz); err != nil {
		return "", err
	}
	if jsz.Meta == nil {
		return "", nil
	}
	return jsz.Meta.Leader, nil
}

// systemd's journal message IDs for a unit that begins to stop and one that
// became active (sd-messages.h: SD_MESSAGE_UNIT_STOPPING, _STARTED).
const (
	msgUnitStopping = "de5b426a63be47a7b6ac3eaac82e2f6f"
	msgUnitStarted  = "39f53479d3a045ac8e11786248231fbf"
)

// unitTimes reads when the node's unit last began to stop and last became
// active, on the kernel's monotonic clock (shared by every lab host), from
// systemd's own messages in the host's journal. The unit's
// ActiveExitTimestampMonotonic cannot serve: dcctl enables a new unit
// without a daemon-reload, so until the next reload or boot nothing loaded
// refers to the unit, and systemd unloads it as soon as it is stopped,
// forgetting when it stopped (the property reads 0 after every stop).
func unitTimes(t *testing.T, node string) (exit, enter uint64) {
	t.Helper()
	out := sshHost(t, node, "journalctl --no-pager -o json UNIT=nats-server.service MESSAGE_ID="+msgUnitStopping+" MESSAGE_ID="+msgUnitStarted)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var e struct {
			ID   string `json:"MESSAGE_ID"`
			Mono string `json:"__MONOTONIC_TIMESTAMP"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%s: journal entry %q: %v", node, line, err)
		}
		n, err := strconv.ParseUint(e.Mono, 10, 64)
		if err != nil {
			t.Fatalf("%s: journal entry's monotonic time %q: %v", node, e.Mono, err)
		}
		switch e.ID {
		case msgUnitStopping:
			exit = max(exit, n)
		case msgUnitStarted:
			enter = max(enter, n)
		}
	}
	return exit, enter
}

func activeNodes(t *testing.T) []labNode {
	var out []labNode
	for _, n := range labNodes(t) {
		if !n.Standby {
			out = append(out, n)
		}
	}
	return out
}

// ensureProvisioned provisions the lab unless every active node's unit runs.
func ensureProvisioned(t *testing.T) {
	t.Helper()
	for _, n := range activeNodes(t) {
		if strings.TrimSpace(sshHost(t, n.Name, "systemctl is-active nats-server || true")) != "active" {
			if _, stderr, code := runDcctl(t, "provision", labInventory(t)); code != 0 {
				t.Fatalf("provision: exit %d: %s", code, stderr)
			}
			return
		}
	}
}

func TestProvision(t *testing.T) {
	inv := labInventory(t)
	nodes := activeNodes(t)

	t.Run("fresh", func(t *testing.T) {
		out, stderr, code := runDcctl(t, "provision", inv)
		if code != 0 {
			t.Fatalf("provision exit %d\n%s\n%s", code, out, stderr)
		}
		// Provision is done when the topology works: status, run at once and
		// once only, finds every leaf node linked to the backbone for every
		// account (it exited 1 here while links were still being made).
		if sout, serr, scode := runDcctl(t, "status", inv); scode != 0 {
			t.Errorf("status right after the first provision: exit %d\n%s\n%s\nprovision said:\n%s", scode, sout, serr, out)
		}
		leaders := map[string]map[string]bool{} // cluster -> leaders seen
		for _, n := range nodes {
			if got := strings.TrimSpace(sshHost(t, n.Name, "systemctl is-active nats-server")); got != "active" {
				t.Errorf("%s: unit %s", n.Name, got)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			code, _, err := httpGet(ctx, n.Host, natsHTTPPort, "/healthz")
			cancel()
			if err != nil || code != http.StatusOK {
				t.Errorf("%s: /healthz %d %v", n.Name, code, err)
			}
			l, err := metaLeaderSeenBy(n.Host, natsHTTPPort)
			if err != nil {
				t.Errorf("%s: /jsz: %v", n.Name, err)
			}
			if leaders[n.Cluster] == nil {
				leaders[n.Cluster] = map[string]bool{}
			}
			leaders[n.Cluster][l] = true
		}
		if len(leaders) != 3 {
			t.Errorf("want 3 clusters with meta leaders, got %v", leaders)
		}
		for cl, seen := range leaders {
			if len(seen) != 1 || seen[""] {
				t.Errorf("cluster %s: servers disagree on or lack a meta leader: %v", cl, seen)
			}
		}
		// the standby node is installed but not running
		for _, n := range labNodes(t) {
			if n.Standby {
				sshHost(t, n.Name, "test -x /usr/local/bin/nats-server && test -f /etc/nats/nats-server.conf")
				if got := strings.TrimSpace(sshHost(t, n.Name, "systemctl is-active nats-server || true")); got == "active" {
					t.Errorf("standby %s was started", n.Name)
				}
			}
		}
		// secrets-bearing files are not readable by others
		for _, n := range nodes {
			modes := sshHost(t, n.Name, "stat -c '%a %U %G %n' /etc/nats/*.conf")
			for _, line := range strings.Split(strings.TrimSpace(modes), "\n") {
				if !strings.HasPrefix(line, "640 root nats ") {
					t.Errorf("%s: %s", n.Name, line)
				}
			}
		}
	})

	t.Run("second run changes nothing", func(t *testing.T) {
		before := map[string]uint64{}
		for _, n := range nodes {
			_, before[n.Name] = unitTimes(t, n.Name)
		}
		out, stderr, code := runDcctl(t, "provision", inv, "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var recap struct {
			Hosts []struct {
				Node, Status string
				Changes      []string
			}
		}
		if err := json.Unmarshal([]byte(out), &recap); err != nil {
			t.Fatalf("recap json: %v\n%s", err, out)
		}
		for _, h := range recap.Hosts {
			if h.Status != "ok" {
				t.Errorf("%s: %s %v", h.Node, h.Status, h.Changes)
			}
		}
		for _, n := range nodes {
			if _, after := unitTimes(t, n.Name); after != before[n.Name] {
				t.Errorf("%s was restarted by a no-op run", n.Name)
			}
		}
	})

	t.Run("a node stopped on purpose stays stopped, a crashed one is started", func(t *testing.T) {
		// One node of each of two clusters: neither loses its quorum.
		stopped, crashed := nodes[len(nodes)-1], nodes[0]
		if stopped.Cluster == crashed.Cluster {
			t.Fatalf("want nodes of two clusters, got %s and %s of %s", stopped.Name, crashed.Name, stopped.Cluster)
		}
		defer runDcctl(t, "node", "start", stopped.Name, inv)
		if out, stderr, code := runDcctl(t, "node", "stop", stopped.Name, inv, "--yes"); code != 0 || !strings.Contains(out, "dcctl node start "+stopped.Name) {
			t.Fatalf("node stop: exit %d\n%s\n%s", code, out, stderr)
		}
		if _, stderr, code := runDcctl(t, "node", "kill", crashed.Name, inv, "--yes"); code != 0 {
			t.Fatalf("node kill: exit %d\n%s", code, stderr)
		}
		// The intent is on the host: the unit is disabled, so a reboot leaves
		// it stopped too, and the marker says who stopped it.
		if got := strings.TrimSpace(sshHost(t, stopped.Name, "systemctl is-enabled nats-server || true")); got != "disabled" {
			t.Errorf("%s after node stop: unit %s, want disabled", stopped.Name, got)
		}
		sshHost(t, stopped.Name, "test -s /etc/nats/.dcctl-stopped")

		out, _, code := runDcctl(t, "plan", inv)
		if code != 0 || !strings.Contains(out, stopped.Name+" ("+stopped.Host+"): no change; stopped by an operator") {
			t.Errorf("plan does not say %s stays stopped: exit %d\n%s", stopped.Name, code, out)
		}
		out, stderr, code := runDcctl(t, "provision", inv)
		if code != 0 {
			t.Fatalf("provision: exit %d\n%s\n%s", code, out, stderr)
		}
		if !strings.Contains(out, "note: stopped by an operator") || !strings.Contains(out, "dcctl node start "+stopped.Name) {
			t.Errorf("recap does not say %s was left stopped:\n%s", stopped.Name, out)
		}
		if got := strings.TrimSpace(sshHost(t, stopped.Name, "systemctl is-active nats-server || true")); got == "active" {
			t.Errorf("provision started %s, which an operator had stopped", stopped.Name)
		}
		if got := strings.TrimSpace(sshHost(t, crashed.Name, "systemctl is-active nats-server || true")); got != "active" {
			t.Errorf("provision did not start crashed %s: unit %s", crashed.Name, got)
		}
		out, _, code = runDcctl(t, "status", inv)
		if code != 1 || !strings.Contains(out, "stopped by an operator") {
			t.Errorf("status with %s stopped on purpose: exit %d, want 1 saying so\n%s", stopped.Name, code, out)
		}

		if _, stderr, code := runDcctl(t, "node", "start", stopped.Name, inv); code != 0 {
			t.Fatalf("node start: exit %d\n%s", code, stderr)
		}
		if got := strings.TrimSpace(sshHost(t, stopped.Name, "systemctl is-enabled nats-server; test -e /etc/nats/.dcctl-stopped && echo marker left || true")); got != "enabled" {
			t.Errorf("%s after node start: %q, want the unit enabled and no marker", stopped.Name, got)
		}
		testwait.Eventually(t, time.Minute, "status healthy again", func() error {
			if out, _, code := runDcctl(t, "status", inv); code != 0 {
				return fmt.Errorf("status exit %d\n%s", code, out)
			}
			return nil
		})
		// The files provision kept up to date while it was stopped are the
		// ones it started with: nothing left to restart.
		if out, _, code := runDcctl(t, "plan", inv); code != 0 || !strings.Contains(out, "0 of ") {
			t.Errorf("plan after node start: exit %d\n%s", code, out)
		}
	})

	t.Run("a binary for another architecture is refused before any upload", func(t *testing.T) {
		// A real arm64 executable (a tiny Go program: the check reads the
		// ELF header, and no host here could run it) as nats.binary.
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module tiny\n\ngo 1.21\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
		arm := filepath.Join(dir, "nats-server-arm64")
		build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", arm, ".")
		build.Dir = dir
		build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
		if b, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build for arm64: %v\n%s", err, b)
		}
		data, err := os.ReadFile(inv)
		if err != nil {
			t.Fatal(err)
		}
		wrong := filepath.Join(filepath.Dir(inv), "inventory.e2e-arm64.toml")
		text := strings.Replace(string(data), `binary = "../bin/nats-server"`, fmt.Sprintf("binary = %q", arm), 1)
		if text == string(data) {
			t.Fatal("lab inventory has no binary = \"../bin/nats-server\" line to replace")
		}
		os.WriteFile(wrong, []byte(text), 0o644)
		sec, _ := os.ReadFile(strings.TrimSuffix(inv, ".toml") + ".secrets.toml")
		os.WriteFile(strings.TrimSuffix(wrong, ".toml")+".secrets.toml", sec, 0o600)
		copyTLS(t, wrong)
		defer os.Remove(wrong)
		defer os.Remove(strings.TrimSuffix(wrong, ".toml") + ".secrets.toml")

		before := map[string]string{}
		for _, n := range labNodes(t) {
			before[n.Name] = sshHost(t, n.Name, "sha256sum /usr/local/bin/nats-server")
		}
		out, stderr, code := runDcctl(t, "provision", wrong)
		if code != 2 {
			t.Fatalf("provision with an arm64 binary on x86_64 hosts: exit %d, want 2\n%s\n%s", code, out, stderr)
		}
		for _, want := range []string{"arm64", "x86_64", "nothing was changed"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("refusal does not say %q:\n%s", want, stderr)
			}
		}
		for _, n := range labNodes(t) {
			if !strings.Contains(stderr, n.Name+" (") {
				t.Errorf("refusal does not name %s:\n%s", n.Name, stderr)
			}
			if got := sshHost(t, n.Name, "sha256sum /usr/local/bin/nats-server; ls /usr/local/bin/*.dcctl-tmp 2>/dev/null || true"); got != before[n.Name] {
				t.Errorf("%s: binary touched by a refused run: %q, was %q", n.Name, got, before[n.Name])
			}
		}
	})

	t.Run("as a non-root user through sudo", func(t *testing.T) {
		// The same deployment reached as the lab's `deploy` user with
		// passwordless sudo: facts, uploads and systemd all go through sudo -n.
		data, err := os.ReadFile(inv)
		if err != nil {
			t.Fatal(err)
		}
		viaSudo := filepath.Join(filepath.Dir(inv), "inventory.e2e-sudo.toml")
		text := strings.Replace(string(data), "ssh_user = \"root\"\n", "ssh_user = \"deploy\"\nsudo = true\n", 1)
		if text == string(data) {
			t.Fatal("lab inventory has no ssh_user = \"root\" line to replace")
		}
		os.WriteFile(viaSudo, []byte(text), 0o644)
		sec, _ := os.ReadFile(strings.TrimSuffix(inv, ".toml") + ".secrets.toml")
		os.WriteFile(strings.TrimSuffix(viaSudo, ".toml")+".secrets.toml", sec, 0o600)
		copyTLS(t, viaSudo)
		defer os.Remove(viaSudo)
		defer os.Remove(strings.TrimSuffix(viaSudo, ".toml") + ".secrets.toml")

		out, stderr, code := runDcctl(t, "provision", viaSudo, "--json")
		if code != 0 {
			t.Fatalf("provision as deploy: exit %d: %s", code, stderr)
		}
		if strings.Contains(out, `"status": "changed"`) {
			t.Errorf("provision through sudo changed a provisioned host:\n%s", out)
		}
		target := nodes[len(nodes)-1].Name
		_, before := unitTimes(t, target)
		if _, stderr, code := runDcctl(t, "node", "restart", target, "-i", viaSudo, "--yes"); code != 0 {
			t.Fatalf("node restart through sudo: exit %d: %s", code, stderr)
		}
		if _, after := unitTimes(t, target); after == before {
			t.Errorf("%s was not restarted through sudo", target)
		}
		testwait.Eventually(t, time.Minute, target+" healthy again", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			code, _, err := httpGet(ctx, hostAddr(t, target), natsHTTPPort, "/healthz")
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("/healthz %d", code)
			}
			return err
		})
	})

	t.Run("config change rolls through one cluster", func(t *testing.T) {
		// A second inventory beside the lab's (so its relative paths and
		// secrets hold) that changes one value on the US cluster's nodes.
		data, err := os.ReadFile(inv)
		if err != nil {
			t.Fatal(err)
		}
		changed := filepath.Join(filepath.Dir(inv), "inventory.e2e-change.toml")
		var touched []labNode
		text := string(data)
		for _, n := range nodes {
			if n.Cluster == "US" {
				touched = append(touched, n)
				text = strings.Replace(text, "[nodes."+n.Name+"]\n", "[nodes."+n.Name+"]\nhttp_port = 8223\n", 1)
			}
		}
		if len(touched) != 3 {
			t.Fatalf("want the 3 US nodes, got %v", touched)
		}
		os.WriteFile(changed, []byte(text), 0o644)
		sec, _ := os.ReadFile(strings.TrimSuffix(inv, ".toml") + ".secrets.toml")
		os.WriteFile(strings.TrimSuffix(changed, ".toml")+".secrets.toml", sec, 0o600)
		copyTLS(t, changed)
		defer os.Remove(changed)
		defer os.Remove(strings.TrimSuffix(changed, ".toml") + ".secrets.toml")

		rollThrough(t, changed, touched, nodes, 8223)
		// and back, which restarts the same nodes again
		rollThrough(t, inv, touched, nodes, natsHTTPPort)
	})
}

// rollThrough provisions inventory and checks that exactly the touched
// nodes restarted, never two at once, while their cluster kept a meta leader.
func rollThrough(t *testing.T, inventory string, touched, all []labNode, newPort int) {
	t.Helper()
	before := map[string]uint64{}
	for _, n := range all {
		_, before[n.Name] = unitTimes(t, n.Name)
	}
	// Watch the cluster's meta leader from every touched node while the
	// rollout runs: record the longest stretch in which nobody knew one.
	stop := make(chan struct{})
	var mu sync.Mutex
	var longest, gapStart time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t0 := time.Now()
		gapStart = -1
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond): // poll interval
			}
			leader := ""
			for _, n := range touched {
				for _, port := range []int{natsHTTPPort, 8223} {
					if l, err := metaLeaderSeenBy(n.Host, port); err == nil && l != "" {
						leader = l
					}
				}
			}
			now := time.Since(t0)
			mu.Lock()
			if leader == "" && gapStart < 0 {
				gapStart = now
			}
			if leader != "" && gapStart >= 0 {
				longest = max(longest, now-gapStart)
				gapStart = -1
			}
			mu.Unlock()
		}
	}()
	out, stderr, code := runDcctl(t, "provision", inventory)
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatalf("provision exit %d\n%s\n%s", code, out, stderr)
	}
	t.Logf("longest stretch without a meta leader in cluster US: %s", longest)
	if longest > 5*time.Second || gapStart >= 0 {
		t.Errorf("cluster US was without a meta leader for %s during the rollout", longest)
	}
	type window struct {
		node        string
		exit, enter uint64
	}
	var windows []window
	isTouched := map[string]bool{}
	for _, n := range touched {
		isTouched[n.Name] = true
		exit, enter := unitTimes(t, n.Name)
		if enter == before[n.Name] {
			t.Errorf("%s was not restarted", n.Name)
		}
		windows = append(windows, window{n.Name, exit, enter})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		code, _, err := httpGet(ctx, n.Host, newPort, "/healthz")
		cancel()
		if err != nil || code != http.StatusOK {
			t.Errorf("%s: /healthz on the new port %d: %d %v", n.Name, newPort, code, err)
		}
	}
	for _, n := range all {
		if !isTouched[n.Name] {
			if _, enter := unitTimes(t, n.Name); enter != before[n.Name] {
				t.Errorf("%s was restarted though its files did not change", n.Name)
			}
		}
	}
	for i := range windows {
		for j := i + 1; j < len(windows); j++ {
			a, b := windows[i], windows[j]
			if a.exit < b.enter && b.exit < a.enter {
				t.Errorf("%s and %s were down at the same time", a.node, b.node)
			}
		}
	}
}
