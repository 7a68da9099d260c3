package provision

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRetiredNodeStaysDown: replace-peer --permanent retires the node it
// dropped from the meta group (Retire's script: the removed marker, disable,
// stop). The next provision, with the node still in the inventory, standby
// or not, must neither start nor enable it, and must say why and what to do
// (the inventory edit, or restore-node); otherwise it rejoins as one meta
// peer too many. The script runs here for real, systemctl a shell function
// that logs its calls; the marker it leaves is read as the facts script
// reads it.
func TestRetiredNodeStaysDown(t *testing.T) {
	inv, sec, bin := fixture(t, nil)
	var node, standby string
	for _, n := range inv.Nodes {
		if n.Standby {
			continue
		}
		if node == "" {
			node = n.Name
		} else if standby == "" {
			standby = n.Name
			n.Standby = true // a replacement never marked active again, say
		}
	}

	dir := t.TempDir()
	inv.NATS.ConfigDir = dir
	calls := filepath.Join(dir, "calls")
	script := "systemctl() { echo \"$*\" >> " + shellQuote(calls) + "; [ \"$1\" != is-active ] || return 1; }\n" +
		stopScript(inv, RemovedTag+stopMarkerContent(time.Now()))
	if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("retire script: %v: %s", err, out)
	}
	log, _ := os.ReadFile(calls)
	for _, want := range []string{"disable --quiet " + inv.NATS.Service + ".service", "stop " + inv.NATS.Service + ".service"} {
		if !strings.Contains(string(log), want+"\n") {
			t.Errorf("systemctl calls %q, want %q", log, want)
		}
	}
	mark, err := os.ReadFile(stopMarkerPath(inv))
	if err != nil {
		t.Fatal(err)
	}
	by := strings.SplitN(string(mark), "\n", 2)[0]

	for _, name := range []string{node, standby} {
		t.Run(name, func(t *testing.T) {
			dirs, files, _ := desired(inv, sec, bin, name)
			facts, fetch := hostWith(files, dirs)
			facts.UnitActive, facts.UnitEnabled = "inactive", "disabled"
			facts.Stopped, facts.StoppedBy = true, by
			p, err := planHost(context.Background(), inv, sec, inv.Node(name), dirs, files, facts, fetch)
			if err != nil {
				t.Fatal(err)
			}
			if p.Action != ActionNone || p.Enable || !p.LeftStopped {
				t.Fatalf("action %q enable %v left stopped %v, want it left down (%v)", p.Action, p.Enable, p.LeftStopped, p.Summary())
			}
			var out strings.Builder
			PrintPlans(&out, []*HostPlan{p}, false)
			for _, want := range []string{"replace-peer " + name + " --permanent", "remove [nodes." + name + "]", "restore-node " + name} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("plan output does not say %q:\n%s", want, out.String())
				}
			}
			if note := newRecap([]*HostPlan{p}).Hosts[0].Note; !strings.Contains(note, "remove [nodes."+name+"]") {
				t.Errorf("recap note %q", note)
			}
		})
	}
}

// TestStopKeepsTheRemovedMarker: `node stop` (or retire run again) on a node
// replace-peer --permanent retired keeps the marker's "removed for good"
// line, who and when: a plain stop line in its place would make provision
// and status call the node paused by an operator. A node stopped plainly
// gets its stop line as before.
func TestStopKeepsTheRemovedMarker(t *testing.T) {
	inv, _, _ := fixture(t, nil)
	dir := t.TempDir()
	inv.NATS.ConfigDir = dir
	run := func(content string) string {
		t.Helper()
		script := "systemctl() { [ \"$1\" != is-active ] || return 1; }\n" + stopScript(inv, content)
		if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("stop script: %v: %s", err, out)
		}
		mark, err := os.ReadFile(stopMarkerPath(inv))
		if err != nil {
			t.Fatal(err)
		}
		return string(mark)
	}
	if got := run("op@desk at 2026-01-01T00:00:00Z"); got != "op@desk at 2026-01-01T00:00:00Z\n" {
		t.Fatalf("a plain stop wrote %q", got)
	}
	retired := RemovedTag + "op@desk at 2026-01-02T00:00:00Z"
	if got := run(retired); got != retired+"\n" {
		t.Fatalf("retire over a plain stop wrote %q, want the removed line", got)
	}
	for _, again := range []string{"op2@laptop at 2026-01-03T00:00:00Z", RemovedTag + "op2@laptop at 2026-01-03T00:00:00Z"} {
		if got := run(again); got != retired+"\n" {
			t.Errorf("stop with %q over the removed marker left %q, want %q", again, got, retired+"\n")
		}
	}
}
