package provision

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/remote"
)

// installWaitingFor puts a stand-in for install(1) on the host's PATH that
// first waits (up to 10 s) for file to exist: the prepare script creates
// the owned directories with it.
func installWaitingFor(t *testing.T, h *phaseHost, file string) {
	t.Helper()
	real, err := exec.LookPath("install")
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Command(t, "install", fmt.Sprintf(`#!/bin/sh
i=0
while [ ! -e %[1]s ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -e %[1]s ] || { echo "install: %[1]s never appeared" >&2; exit 1; }
exec %[2]s "$@"
`, shellQuote(file), real))
}

// When the binary's directory is there, its upload begins while the
// prepare script still runs: the script's install waits for the upload's
// temporary file, and the whole install goes through.
func TestPhasesBinaryUploadBesidePrepare(t *testing.T) {
	for _, transfer := range []string{"sftp", "exec"} {
		t.Run(transfer, func(t *testing.T) {
			h := newPhaseHost(t)
			h.node.SSH.Transfer = transfer
			bin := h.path("opt/acme/nats/bin/nats-server")
			if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
				t.Fatal(err)
			}
			installWaitingFor(t, h, bin+remote.TempSuffix)
			p := h.plan(t)
			if len(p.Dirs) == 0 || !binaryDirReady(p, bin) {
				t.Fatalf("plan: dirs %v, parents %v: want owned directories to create and the binary's directory there", p.Dirs, p.Parents)
			}
			if log, err := h.run(t, p, installPhases()...); err != nil {
				t.Fatalf("install: %v\n%s", err, log)
			}
			if _, err := os.Stat(bin); err != nil {
				t.Errorf("binary not installed: %v", err)
			}
			noTemps(t, bin)
		})
	}
}

// A prepare script that fails stops the binary's upload beside it; the
// error is the script's, and nothing is installed. Over SFTP the owned
// directories are made by the sftp-server: a file in the way of one fails
// it the same way.
func TestPhasesPrepareFailureStopsTheUpload(t *testing.T) {
	for _, transfer := range []string{inventory.TransferExec, inventory.TransferSFTP} {
		t.Run(transfer, func(t *testing.T) {
			h := newPhaseHost(t)
			h.node.SSH.Transfer = transfer
			bin := h.path("opt/acme/nats/bin/nats-server")
			if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
				t.Fatal(err)
			}
			p := h.plan(t)
			want := "no room"
			if transfer == inventory.TransferExec {
				h.srv.Command(t, "install", "#!/bin/sh\necho 'install: no room' >&2\nexit 1\n")
			} else {
				want = "is not a directory"
				if err := os.MkdirAll(filepath.Dir(p.Dirs[0].Path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p.Dirs[0].Path, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := h.run(t, p, installPhases()...)
			if err == nil || !strings.Contains(err.Error(), (ownDirs{}).Title()) || !strings.Contains(err.Error(), want) {
				t.Fatalf("install with a failing prepare script: %v, want the owned directories' failure", err)
			}
			if _, err := os.Stat(bin); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("binary installed after the prepare script failed (stat: %v)", err)
			}
		})
	}
}
