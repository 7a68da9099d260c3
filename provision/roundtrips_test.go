package provision

import (
	"os"
	"strings"
	"testing"
)

// fakeSystemctl stands in for systemctl on the "host": this machine's
// systemd must not get a test's unit. It logs its arguments beside itself.
const fakeSystemctl = "#!/bin/sh\necho \"$*\" >> \"$(dirname \"$0\")/systemctl.log\"\n"

// A fresh host's install and first start take five round trips: the
// prepare script, the binary's upload, the config's upload, the check and
// install script, the start script (the unit's upload, left out here so as
// not to write to this machine's /etc/systemd/system, makes six). Before
// the phases it took twelve (thirteen).
func TestApplyRoundTripsFreshHost(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: provision sets owners (run as root, as scripts/test.sh does)")
	}
	root := hostRoot(t)
	s, node, srv := hostFixture(t, root, false)
	srv.Command(t, "systemctl", fakeSystemctl)
	p := planOne(t, s, node)
	withoutUnit(p)
	if p.Action != ActionStart || !p.Enable {
		t.Fatalf("plan of a fresh host: action %q, enable %v", p.Action, p.Enable)
	}
	before := srv.Execs()
	var log strings.Builder
	if err := runOn(t, s, p, &log, installPhases()); err != nil {
		t.Fatalf("install: %v\n%s", err, log.String())
	}
	if err := runOn(t, s, p, &log, startPhases()); err != nil {
		t.Fatalf("start: %v\n%s", err, log.String())
	}
	got := srv.Execs() - before
	t.Logf("round trips: %d\n%s", got, log.String())
	if got > 5 {
		t.Errorf("a fresh host took %d round trips, want at most 5", got)
	}
}
