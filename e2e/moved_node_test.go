package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestNodeMovedWhileItRuns: the inventory gives a running node another host
// (the standby's, taken out of the inventory) while its server still runs on
// the old one. Before the check, provision started it on the new host and
// the cluster had two servers of one name (one JetStream peer id): a
// publisher on the old one got acks the stream did not keep. Now plan warns,
// naming the node, the address it runs at and the new host, and provision
// (and restore-node, which provisions and starts a node) refuses (exit 2)
// before it touches a host. Reuses the provisioned lab.
func TestNodeMovedWhileItRuns(t *testing.T) {
	ensureProvisioned(t)
	var standby, moved labNode
	for _, n := range labNodes(t) {
		if n.Standby {
			standby = n
		}
	}
	if standby.Name == "" {
		t.Fatal("the lab has no standby node to take the moved node's place")
	}
	for _, n := range activeNodes(t) {
		if n.Cluster == standby.Cluster {
			moved = n
			break
		}
	}
	block := func(n labNode) string {
		return fmt.Sprintf("[nodes.%s]\ncluster = %q\ndc = %q\nhost = %q\n", n.Name, n.Cluster, n.DC, n.Host)
	}
	movedThere := moved
	movedThere.Host = standby.Host
	inv := copyInventory(t, &transcript{}, "", block(standby)+"standby = true\n", "", block(moved), block(movedThere))

	state := func() map[string]string {
		out := map[string]string{}
		for _, h := range []string{moved.Host, standby.Host} {
			out[h] = sshHost(t, h, "cat /etc/nats/* 2>/dev/null | sha256sum; systemctl show nats-server -p ActiveState -p MainPID -p UnitFileState")
		}
		return out
	}
	before := state()
	says := []string{moved.Name + " of cluster " + moved.Cluster + " runs at " + moved.Host,
		"now puts it on " + standby.Host, "systemctl disable --now nats-server", "Moving a node to another host"}

	_, stderr, code := runDcctl(t, "plan", inv)
	if code != 0 || !strings.Contains(stderr, "warning: provision would refuse: refusing to start a node whose server still runs on another host") {
		t.Fatalf("plan: exit %d, want 0 and the warning:\n%s", code, stderr)
	}
	for _, want := range says {
		if !strings.Contains(stderr, want) {
			t.Errorf("plan's warning lacks %q:\n%s", want, stderr)
		}
	}
	_, stderr, code = runDcctl(t, "provision", inv)
	if code != 2 {
		t.Fatalf("provision: exit %d, want 2 (refused):\n%s", code, stderr)
	}
	for _, want := range says {
		if !strings.Contains(stderr, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, stderr)
		}
	}
	// restore-node provisions and starts the node as provision would: refused alike
	_, stderr, code = runDcctl(t, "runbook", "restore-node", moved.Name, inv, "--yes")
	if code != 2 || !strings.Contains(stderr, says[0]) {
		t.Errorf("restore-node %s: exit %d, want 2 and the refusal:\n%s", moved.Name, code, stderr)
	}
	after := state()
	for h, was := range before {
		if now := after[h]; now != was {
			t.Errorf("%s touched by a refused provision:\n%s\nwas\n%s", h, now, was)
		}
	}
}
