package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testwait"
)

// TestLab checks the lab itself, independently of dcctl: real systemd on every host, sshd
// answering with the host key recorded in known_hosts, the sudo user, openssl, and the two DCs joined
// through a link that partition cuts and heal restores.
func TestLab(t *testing.T) {
	nodes := labNodes(t)
	if len(nodes) != labHosts {
		t.Fatalf("lab inventory has %d nodes, want %d", len(nodes), labHosts)
	}

	// One SSH session per host, all hosts at once: each answers with what the checks below
	// need. The session itself proves sshd answers with the key known_hosts holds (strict
	// checking, never off).
	facts := map[string]hostFacts{}
	var mu sync.Mutex
	t.Run("hosts", func(t *testing.T) {
		for _, n := range nodes {
			t.Run(n.Name, func(t *testing.T) {
				t.Parallel()
				var f hostFacts
				// Right after up a host may still be "starting" (sshd is up before the last units).
				testwait.Eventually(t, time.Minute, n.Name+" systemd running", func() error {
					var err error
					f, err = readHostFacts(n)
					if err != nil {
						return err
					}
					if f.state != "running" && f.state != "degraded" {
						return fmt.Errorf("systemctl is-system-running: %q", f.state)
					}
					return nil
				})
				if f.init != "systemd" {
					t.Errorf("PID 1 is %q, want systemd", f.init)
				}
				if want := strings.ReplaceAll(n.Name, "_", "-"); f.hostname != want {
					t.Errorf("hostname %q, want %q", f.hostname, want)
				}
				if len(f.machineID) != 32 {
					t.Errorf("machine-id %q", f.machineID)
				}
				mu.Lock()
				facts[n.Name] = f
				mu.Unlock()
			})
		}
	})

	t.Run("host keys", func(t *testing.T) {
		known, err := os.ReadFile(filepath.Join(repoRoot(), "lab", "known_hosts"))
		if err != nil {
			t.Fatal(err)
		}
		keys, ids := map[string]string{}, map[string]string{}
		for _, n := range nodes {
			f, ok := facts[n.Name]
			if !ok {
				t.Fatalf("%s: no facts (see the hosts subtest)", n.Name)
			}
			// The entry must come from the host's own key file, and every host has its own key
			// and machine-id (the base image carries none).
			if want := n.Host + " " + f.hostKey; !strings.Contains(string(known), want+"\n") {
				t.Errorf("%s: known_hosts lacks %q", n.Name, want)
			}
			if other, dup := keys[f.hostKey]; dup {
				t.Errorf("%s and %s share a host key", n.Name, other)
			}
			keys[f.hostKey] = n.Name
			if other, dup := ids[f.machineID]; dup {
				t.Errorf("%s and %s share machine-id %s", n.Name, other, f.machineID)
			}
			ids[f.machineID] = n.Name
		}
		// With an empty known_hosts, strict checking must refuse: nothing bypasses it.
		empty := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(empty, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		args := append(sshArgs(empty), "root@"+nodes[0].Host, "true")
		if out, err := runCmd(ctx, "ssh", args...); err == nil {
			t.Errorf("ssh with an empty known_hosts succeeded: %s", out)
		}
	})

	t.Run("sudo user", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := trySSH(ctx, "deploy", nodes[0].Host, "id -un; sudo -n id -u")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Fields(out); len(got) != 2 || got[0] != "deploy" || got[1] != "0" {
			t.Fatalf("deploy with sudo -n: got %q, want deploy and uid 0", out)
		}
	})

	// The image carries openssl, as a Debian host with ca-certificates does:
	// dcctl hashes its uploads on the host with it (sha256sum where a host
	// has none, tested against the in-process sshd).
	t.Run("openssl", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := trySSH(ctx, "root", nodes[0].Host, "openssl dgst -sha256 -r /dev/null")
		if err != nil {
			t.Fatal(err)
		}
		if want := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 */dev/null"; strings.TrimSpace(out) != want {
			t.Fatalf("openssl dgst on %s: %q, want %q", nodes[0].Name, out, want)
		}
	})

	emea, us := byDC(nodes, "emea"), byDC(nodes, "us")
	if len(emea) < 2 || len(us) < 2 {
		t.Fatalf("need 2 hosts per DC, have emea %d, us %d", len(emea), len(us))
	}

	t.Run("partition and heal", func(t *testing.T) {
		t.Cleanup(func() { runLab(t, "heal") })
		// Every pair below connects to sshd's port: TCP through the real path, no ICMP tools needed.
		crossDC := func() error { return tcpReach(emea[0], us[0].Host) }
		crossDCBack := func() error { return tcpReach(us[1], emea[1].Host) }
		inEMEA := func() error { return tcpReach(emea[0], emea[1].Host) }
		inUS := func() error { return tcpReach(us[0], us[1].Host) }

		for _, c := range []func() error{crossDC, crossDCBack, inEMEA, inUS} {
			if err := c(); err != nil {
				t.Fatalf("before partition: %v", err)
			}
		}

		runLab(t, "partition", "emea", "us")
		if err := crossDC(); err == nil {
			t.Errorf("partitioned: %s still reaches %s", emea[0].Name, us[0].Name)
		}
		if err := crossDCBack(); err == nil {
			t.Errorf("partitioned: %s still reaches %s", us[1].Name, emea[1].Name)
		}
		if err := inEMEA(); err != nil {
			t.Errorf("partitioned: inside emea: %v", err)
		}
		if err := inUS(); err != nil {
			t.Errorf("partitioned: inside us: %v", err)
		}
		// The operator's machine keeps reaching both DCs (it sits on both bridges).
		sshHost(t, emea[0].Name, "true")
		sshHost(t, us[0].Name, "true")

		runLab(t, "heal")
		testwait.Eventually(t, 10*time.Second, "healed emea -> us", crossDC)
		testwait.Eventually(t, 10*time.Second, "healed us -> emea", crossDCBack)
	})
}

func byDC(nodes []labNode, dc string) []labNode {
	var out []labNode
	for _, n := range nodes {
		if n.DC == dc {
			out = append(out, n)
		}
	}
	return out
}

// tcpReach opens a TCP connection from host `from` to addr:22 (sshd) with a 2 s limit.
func tcpReach(from labNode, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := fmt.Sprintf("timeout 2 bash -c 'exec 3<>/dev/tcp/%s/22' && echo reached", addr)
	out, err := trySSH(ctx, "root", from.Host, cmd)
	if err != nil || !strings.Contains(out, "reached") {
		return fmt.Errorf("%s (%s) -> %s:22: %v", from.Name, from.Host, addr, err)
	}
	return nil
}

// hostFacts is what one SSH session reads from a host.
type hostFacts struct {
	state     string // systemctl is-system-running
	init      string // /proc/1/comm
	hostname  string
	machineID string
	hostKey   string // "ssh-ed25519 AAAA..." from the host's own key file
}

func readHostFacts(n labNode) (hostFacts, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// is-system-running exits non-zero for "degraded": read its output, not its code.
	out, err := trySSH(ctx, "root", n.Host, "systemctl is-system-running; cat /proc/1/comm; hostname; "+
		"cat /etc/machine-id; cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		return hostFacts{}, fmt.Errorf("%s: unexpected answer %q (%v)", n.Name, out, err)
	}
	return hostFacts{
		state:     strings.TrimSpace(lines[0]),
		init:      strings.TrimSpace(lines[1]),
		hostname:  strings.TrimSpace(lines[2]),
		machineID: strings.TrimSpace(lines[3]),
		hostKey:   strings.TrimSpace(lines[4]),
	}, nil
}
