package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/sshtest"
	"github.com/dcctl/dcctl/provision"
)

// retiredNode is an in-process SSH host with node n1 retired (unit down,
// the removed marker as replace-peer --permanent leaves it): the inventory
// file, the marker's path and content, and the log of systemctl calls.
func retiredNode(t *testing.T) (inv, marker, retired, calls string) {
	t.Helper()
	dir := t.TempDir()
	keyFile, signer := sshtest.ClientKey(t, dir)
	srv := sshtest.NewServer(t, signer.PublicKey())
	knownHosts := filepath.Join(dir, "known_hosts")
	sshtest.WriteKnownHost(t, knownHosts, srv.Addr, srv.HostKeys[0].PublicKey())
	calls = filepath.Join(dir, "systemctl.log")
	srv.Command(t, "systemctl", "#!/bin/sh\necho \"$*\" >> "+calls+"\n"+
		"case \"$1\" in show) printf 'LoadState=loaded\\nActiveState=inactive\\nSubState=dead\\nResult=success\\nMainPID=0\\nNRestarts=0\\n' ;; esac\n")
	// Not under /tmp, which validation refuses for config_dir (the unit
	// has PrivateTmp=true).
	confDir, err := os.MkdirTemp("/var/lib", "dcctl-retired-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(confDir) })
	invf := srv.Inventory(t, dir, keyFile, knownHosts, "", `binary = "nats-server"
config_dir = "`+confDir+`"`)
	for _, u := range []string{"APP", "OPS"} {
		t.Setenv("DCCTL_PASSWORD_"+u, "not-used-"+u)
	}
	t.Setenv("DCCTL_ROUTE_PASSWORD", "not-used-route")
	marker = filepath.Join(confDir, ".dcctl-stopped")
	retired = provision.RemovedTag + "op@desk at 2026-11-27T10:00:00Z\n"
	if err := os.WriteFile(marker, []byte(retired), 0o644); err != nil {
		t.Fatal(err)
	}
	return invf.File, marker, retired, calls
}

// onlyShown fails when systemctl was asked anything but its state.
func onlyShown(t *testing.T, calls string) {
	t.Helper()
	for _, line := range strings.Split(mustRead(t, calls), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] != "show" {
			t.Errorf("systemctl %s: a retired node's unit was touched", line)
		}
	}
}

// TestNodeStopOnARetiredNode: `node stop` on a node replace-peer --permanent
// retired (unit down, the removed marker on its host) says it is retired and
// changes nothing: the marker keeps its "removed for good" line, who and
// when, and systemd is not asked to stop or disable anything. It used to
// overwrite the marker with a plain stop line, after which provision and
// status called the node paused by an operator.
func TestNodeStopOnARetiredNode(t *testing.T) {
	inv, marker, retired, calls := retiredNode(t)
	out, errOut, code := runCLI(t, "node", "stop", "n1", inv, "--yes", "--ssh-timeout", "2s")
	if code != 0 || !strings.Contains(out, "n1: not stopped again, nothing changed") || !strings.Contains(out, "replace-peer n1 --permanent") {
		t.Errorf("node stop on a retired node: exit %d, want 0 saying it is retired and nothing changed:\n%s%s", code, out, errOut)
	}
	if got := mustRead(t, marker); got != retired {
		t.Errorf("marker %q, want it kept: %q", got, retired)
	}
	onlyShown(t, calls)
}

// TestNodeStartOnARetiredNode: `node start` (or restart) on a node
// replace-peer --permanent retired is refused (exit 2) with who retired it
// and when, and restore-node as the way back; the marker stays and the
// unit is neither enabled nor started. It used to remove the marker and
// start the node, which then rejoined its meta group as a peer too many.
func TestNodeStartOnARetiredNode(t *testing.T) {
	inv, marker, retired, calls := retiredNode(t)
	for _, action := range []string{"start", "restart"} {
		out, errOut, code := runCLI(t, "node", action, "n1", inv, "--ssh-timeout", "2s")
		for _, want := range []string{"n1: not " + action + "ed", "replace-peer n1 --permanent", "op@desk at 2026-11-27T10:00:00Z",
			"dcctl runbook restore-node n1 " + inv, "remove [nodes.n1] from " + inv} {
			if !strings.Contains(errOut, want) {
				t.Errorf("node %s on a retired node: %q missing:\n%s%s", action, want, out, errOut)
			}
		}
		if code != 2 {
			t.Errorf("node %s on a retired node: exit %d, want 2 (refused)", action, code)
		}
	}
	if got := mustRead(t, marker); got != retired {
		t.Errorf("marker %q, want it kept: %q", got, retired)
	}
	onlyShown(t, calls)
}
