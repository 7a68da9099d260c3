package provision

import (
	"os"
	"strings"
	"testing"
)

// The binary's content is read and hashed once per session for every
// host's upload: a second upload reads no file (here the file is gone by
// then, and the upload still installs the planned binary).
func TestBinaryReadOncePerSession(t *testing.T) {
	for _, transfer := range []string{"sftp", "exec"} {
		t.Run(transfer, func(t *testing.T) {
			h := newPhaseHost(t)
			h.node.SSH.Transfer = transfer
			// Installed, not started: a new binary for a stopped node is
			// installed in place, not staged for a swap.
			if log, err := h.run(t, h.plan(t), installPhases()...); err != nil {
				t.Fatalf("first install: %v\n%s", err, log)
			}
			bin := h.path("opt/acme/nats/bin/nats-server")
			if err := os.Remove(bin); err != nil {
				t.Fatal(err)
			}
			p := h.plan(t)
			if stagedBinary(p) == nil {
				t.Fatal("plan after the binary was removed from the host: no binary to upload")
			}
			want, err := os.ReadFile(h.s.Inv.NATS.Binary)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(h.s.Inv.NATS.Binary); err != nil {
				t.Fatal(err)
			}
			if log, err := h.run(t, p, installPhases()...); err != nil {
				t.Fatalf("second upload with nats.binary gone: %v\n%s", err, log)
			}
			if got, err := os.ReadFile(bin); err != nil || string(got) != string(want) {
				t.Errorf("installed binary: %d bytes, %v; want the planned %d bytes", len(got), err, len(want))
			}
			noTemps(t, bin)
		})
	}
}

// A binary replaced since the plan is refused before any of it is sent,
// with the reason; the host keeps what it had.
func TestBinaryChangedSinceThePlanRefused(t *testing.T) {
	for _, transfer := range []string{"sftp", "exec"} {
		t.Run(transfer, func(t *testing.T) {
			h := newPhaseHost(t)
			h.node.SSH.Transfer = transfer
			p := h.plan(t)
			if err := os.WriteFile(h.s.Inv.NATS.Binary, []byte("#!/bin/sh\necho another\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := h.run(t, p, installPhases()...)
			if err == nil || !strings.Contains(err.Error(), "changed since the plan") {
				t.Fatalf("install after nats.binary changed: %v, want it refused as changed since the plan", err)
			}
			bin := h.path("opt/acme/nats/bin/nats-server")
			if _, err := os.Lstat(bin); !os.IsNotExist(err) {
				t.Errorf("binary installed after a refused upload (lstat: %v)", err)
			}
			noTemps(t, bin)
		})
	}
}
