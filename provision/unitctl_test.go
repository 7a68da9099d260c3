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
}
