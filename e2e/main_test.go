package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// labHosts is the lab size for the e2e run: the 10-node reference topology plus one standby
// (bb_emea_3) for replacement drills.
const labHosts = 11

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv("DCCTL_E2E") != "1" {
		fmt.Println("e2e: end-to-end tests skipped: set DCCTL_E2E=1 to run them " +
			"(needs root, bin/dcctl, bin/nats-server and bin/nats built; they bring up the local lab)")
		return 0
	}
	root := repoRoot()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: DCCTL_E2E=1 but not root: the lab needs root (namespaces, mounts, systemd-nspawn)")
		return 1
	}
	for _, bin := range []string{"bin/dcctl", "bin/nats-server", "bin/nats"} {
		if _, err := os.Stat(filepath.Join(root, bin)); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %s is missing: build it first as scripts/test.sh does (go build -o bin/dcctl ./cmd/dcctl; "+
				"go build -o bin/nats-server github.com/nats-io/nats-server/v2; natscli: GOBIN=$PWD/bin go install github.com/nats-io/natscli/nats@v0.5.0)\n", bin)
			return 1
		}
	}
	keep := os.Getenv("DCCTL_E2E_KEEP_LAB") == "1"
	if !keep {
		// A fresh lab: hosts left by someone else's run may carry their provisioned state.
		if err := labCommand(10*time.Minute, "down"); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: lab down before the run: %v\n", err)
			return 1
		}
	}
	// With DCCTL_E2E_KEEP_LAB=1, up is a no-op when a lab of labHosts is already up.
	if err := labCommand(10*time.Minute, "up", fmt.Sprint(labHosts)); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: lab up %d: %v\n", labHosts, err)
		if !keep {
			_ = labCommand(5*time.Minute, "down")
		}
		return 1
	}
	if !keep {
		// Interrupted (Ctrl-C, or CI ending the run): take the lab down before exiting, as at
		// the end of a normal run. A SIGKILL cannot be caught; the next up or down cleans up.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sigs)
		go func() {
			s, ok := <-sigs
			if !ok {
				return
			}
			fmt.Fprintf(os.Stderr, "e2e: %v: taking the lab down\n", s)
			_ = labCommand(5*time.Minute, "down")
			os.Exit(1)
		}()
	}
	code := m.Run()
	if keep {
		fmt.Println("e2e: DCCTL_E2E_KEEP_LAB=1: lab left up (lab/lab down removes it)")
		return code
	}
	if err := labCommand(5*time.Minute, "down"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: lab down: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// labCommand runs lab/lab with its output going to ours, so the run log shows lab timings.
func labCommand(timeout time.Duration, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(), "lab", "lab"), args...)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("lab/lab %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// repoRoot is the repository's top directory: this file lives in <root>/e2e.
func repoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("e2e: cannot locate the source file")
	}
	return filepath.Dir(filepath.Dir(file))
}

// labInventoryPath is where lab/lab writes the lab's inventory.
func labInventoryPath() string { return filepath.Join(repoRoot(), "lab", "inventory.toml") }

// labInventory is the path of the inventory lab/lab wrote for the running lab.
func labInventory(t testing.TB) string {
	t.Helper()
	p := filepath.Join(repoRoot(), "lab", "inventory.toml")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("lab inventory: %v (is the lab up?)", err)
	}
	return p
}

// labNode is what the e2e helpers read from the lab inventory; tests of dcctl itself should
// load it with the inventory package instead.
type labNode struct {
	Name    string `toml:"-"`
	Cluster string `toml:"cluster"`
	DC      string `toml:"dc"`
	Host    string `toml:"host"`
	Standby bool   `toml:"standby"`
}

// labNodes returns the lab inventory's nodes sorted by name.
func labNodes(t testing.TB) []labNode {
	t.Helper()
	var doc struct {
		Nodes map[string]labNode `toml:"nodes"`
	}
	if _, err := toml.DecodeFile(labInventory(t), &doc); err != nil {
		t.Fatalf("lab inventory: %v", err)
	}
	nodes := make([]labNode, 0, len(doc.Nodes))
	for name, n := range doc.Nodes {
		n.Name = name
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	if len(nodes) == 0 {
		t.Fatal("lab inventory has no nodes")
	}
	return nodes
}

// hostAddr resolves a node name (or an address) to the host's address.
func hostAddr(t testing.TB, host string) string {
	t.Helper()
	for _, n := range labNodes(t) {
		if n.Name == host || n.Host == host {
			return n.Host
		}
	}
	t.Fatalf("no lab host %q in %s", host, labInventory(t))
	return ""
}

// sshArgs are the ssh options every helper uses: the lab key and the lab's known_hosts, with
// host key checking strict (never disabled).
func sshArgs(knownHosts string) []string {
	lab := filepath.Join(repoRoot(), "lab")
	return []string{
		"-i", filepath.Join(lab, "id_ed25519"),
		"-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "ConnectTimeout=5",
		"-o", "LogLevel=ERROR",
	}
}

// trySSH runs cmd on host (node name or address) as user and returns its combined output.
func trySSH(ctx context.Context, user, addr, cmd string) (string, error) {
	args := append(sshArgs(filepath.Join(repoRoot(), "lab", "known_hosts")), user+"@"+addr, cmd)
	out, err := exec.CommandContext(ctx, "ssh", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ssh %s@%s %q: %w: %s", user, addr, cmd, err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// sshHost runs cmd as root on host (node name or address) and fails the test if it fails.
func sshHost(t testing.TB, host, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := trySSH(ctx, "root", hostAddr(t, host), cmd)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runDcctl runs bin/dcctl from the repository root and returns its stdout, stderr and exit
// code. A dcctl that cannot be started at all fails the test.
func runDcctl(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(), "bin", "dcctl"), args...)
	cmd.Dir = repoRoot()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("dcctl %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("dcctl %s -> exit %d", strings.Join(args, " "), code)
	return o.String(), e.String(), code
}

// runLab runs lab/lab (e.g. "partition", "emea", "us") and fails the test if it fails.
func runLab(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(repoRoot(), "lab", "lab"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("lab/lab %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// runCmd runs a command and returns its combined output.
func runCmd(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}
