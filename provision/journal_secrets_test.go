package provision

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnitFailureShowsTheJournalWithoutSecrets: a unit that fails to start
// or restart says why with its last log lines, and nats-server may log a
// leafnode remote's URL with its password in it (a URL it cannot parse,
// say). Those lines reach the error, the recap and a runbook's journal:
// every password of the secrets file is redacted from them, and a URL's
// password even when the file no longer has it (from before a rotation).
// They used to be shown as the host logged them.
func TestUnitFailureShowsTheJournalWithoutSecrets(t *testing.T) {
	h := newPhaseHost(t)
	h.installed(t)
	app := h.s.Secrets.Password("app")
	route, _ := h.s.Secrets.Route()
	if app == "" || route == "" {
		t.Fatal("fixture has no app or route password")
	}
	h.srv.Command(t, "journalctl", "#!/bin/sh\necho 'nats-server: error parsing leafnode remote url \"nats-leaf://app:"+app+"@hub-1:7422x\"'\necho 'route login with "+route+" refused'\necho 'remote nats-leaf://app:old-Secret-9f2@hub-2:7422 closed'\n")
	os.WriteFile(filepath.Join(h.bin, "fail-restart"), nil, 0o644)

	p := h.plan(t)
	p.Action = ActionRestart
	_, err := h.run(t, p, restartUnit{})
	if err == nil || !strings.Contains(err.Error(), "error parsing leafnode remote url") {
		t.Fatalf("failed restart: %v, want the unit's log lines", err)
	}
	if strings.Contains(err.Error(), app) || strings.Contains(err.Error(), route) || strings.Contains(err.Error(), "old-Secret-9f2") {
		t.Errorf("the failed restart's error shows a password: %v", err)
	}
	if tail := h.s.UnitLogTail(t.Context(), h.node.Name); !strings.Contains(tail, "<redacted>") || strings.Contains(tail, app) || strings.Contains(tail, route) {
		t.Errorf("UnitLogTail (runbooks) = %q, want the lines with the passwords redacted", tail)
	}

	// dcctl node start|restart and restore-node, through UnitCtl: the same
	// lines, where systemd's error only said to read the journal.
	err = h.s.UnitCtl(t.Context(), h.node.Name, UnitRestart)
	if err == nil || !strings.Contains(err.Error(), "error parsing leafnode remote url") || strings.Contains(err.Error(), app) {
		t.Errorf("UnitCtl restart that fails: %v, want the unit's log lines, redacted", err)
	}
}
