package provision

import "testing"

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
