package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestParseUnitShow(t *testing.T) {
	u := parseUnitShow("nats-server.service", []byte("LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=signal\nMainPID=0\nNRestarts=2\n"))
	if u.State() != "failed" || u.Result != "signal" || u.Restarts != 2 || u.String() != "failed (failed), result signal" {
		t.Errorf("%+v %q", u, u.String())
	}
	u = parseUnitShow("nats-server.service", []byte("LoadState=not-found\nActiveState=inactive\nSubState=dead\nMainPID=0\n"))
	if u.State() != "not-found" {
		t.Errorf("not installed: %+v", u)
	}
	u = parseUnitShow("nats-server.service", []byte("LoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nMainPID=4242\n"))
	if u.String() != "active (running), pid 4242" {
		t.Errorf("%q", u.String())
	}
	// The stop marker's line, as UnitState's command appends it.
	u = parseUnitShow("nats-server.service", []byte("LoadState=loaded\nActiveState=inactive\nSubState=dead\nResult=success\nMainPID=0\nDcctlStoppedBy=ops@laptop at 2026-11-27T03:00:00Z\n"))
	if u.StoppedBy != "ops@laptop at 2026-11-27T03:00:00Z" || u.String() != "inactive (dead), stopped by an operator (ops@laptop at 2026-11-27T03:00:00Z)" {
		t.Errorf("stopped on purpose: %+v %q", u, u.String())
	}
}

// TestUnitStatePending: UnitState reads, through the in-process sshd, the
// files under config_dir whose content is not what the applied marker says
// the server runs with (a provision stopped before the restart), and
// nothing else: not the binary outside it, not a file that is gone.
func TestUnitStatePending(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the host's paths live under /var/lib (run as root, as scripts/test.sh does)")
	}
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skip("no sha256sum on this machine")
	}
	root := hostRoot(t)
	s, node, _ := dirsFixture(t, root, false)
	dir := s.Inv.NATS.ConfigDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	sum := func(b string) string { return sha256Hex([]byte(b)) }
	conf, remotes, gone := filepath.Join(dir, "nats-server.conf"), filepath.Join(dir, "leafnode-remotes.conf"), filepath.Join(dir, "tls-ca.pem")
	marker := sum("bin") + " " + s.Inv.NATS.InstallPath + "\n" + sum("old conf") + " " + conf + "\n" + sum("remotes") + " " + remotes + "\n" + sum("ca") + " " + gone + "\n"
	for path, content := range map[string]string{markerPath(s.Inv): marker, conf: "new conf", remotes: "remotes"} {
		if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	u, err := s.UnitState(t.Context(), node.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Pending) != 1 || u.Pending[0] != conf {
		t.Fatalf("pending %q, want only %s", u.Pending, conf)
	}
	// The host's clock rides on the same command: here it is this
	// machine's, so it falls within the round trip.
	if u.Clock.IsZero() || u.ClockOffset != 0 {
		t.Errorf("host clock %v, offset %v: want this machine's, offset 0", u.Clock, u.ClockOffset)
	}
	if err := os.WriteFile(conf, []byte("old conf"), 0o640); err != nil {
		t.Fatal(err)
	}
	if u, err = s.UnitState(t.Context(), node.Name); err != nil || len(u.Pending) != 0 {
		t.Fatalf("in effect: pending %q, %v", u.Pending, err)
	}
}
