package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A fresh install's checks (the sums, the new binary run, nats-server -t)
// run while the uploaded files are flushed to disk, not after, and no file
// is renamed into place before the flush has ended. The stand-ins wait (to
// a deadline) for each other: the hash for the flush to have started, the
// flush for the config check to have run. Had the flush come after the
// sums, or before the config check, as it did, a wait would end at its
// deadline and the events come in another order. So also where the
// sftp-server could flush each file (fsync@openssh.com, OpenSSH's): its
// fsyncs would run before the checks, not beside them, and the renames
// over SFTP must still come after the flush.
func TestPhaseInstallChecksRunWhileTheUploadsFlush(t *testing.T) {
	for _, fsync := range []bool{false, true} {
		t.Run(map[bool]string{false: "script flush", true: "fsync@openssh.com offered"}[fsync], func(t *testing.T) {
			checksRunWhileTheUploadsFlush(t, fsync)
		})
	}
}

func checksRunWhileTheUploadsFlush(t *testing.T, fsync bool) {
	h := newPhaseHost(t)
	h.srv.SFTPFsync.Store(fsync)
	events := filepath.Join(t.TempDir(), "events")
	bin := h.path("opt/acme/nats/bin/nats-server")
	// The sums are checked by openssl where the host has it, else by
	// sha256sum: the one used waits for the flush to start.
	hasher := "sha256sum"
	if _, err := exec.LookPath("openssl"); err == nil {
		hasher = "openssl"
	}
	real, err := exec.LookPath(hasher)
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Command(t, hasher, `#!/bin/sh
i=0
while ! grep -qx flush '`+events+`' 2>/dev/null && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done
echo hashed >> '`+events+`'
exec '`+real+`' "$@"
`)
	os.WriteFile(h.s.Inv.NATS.Binary, []byte("#!/bin/sh\ncase \"$1\" in --version) echo 'nats-server: v2.99.0-test';; -t) echo checked >> '"+events+"'; exit 0;; *) exit 1;; esac\n"), 0o755)
	h.srv.Command(t, "sync", `#!/bin/sh
echo flush >> '`+events+`'
i=0
while ! grep -qx checked '`+events+`' && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done
if [ -e '`+bin+`' ]; then echo "renamed before the flush ended" >> '`+events+`'; fi
echo flushed >> '`+events+`'
exec /bin/sync "$@"
`)
	p := h.plan(t)
	if log, err := h.run(t, p, installPhases()...); err != nil {
		t.Fatalf("install: %v\n%s", err, log)
	}
	got, _ := os.ReadFile(events)
	if want := "flush\nhashed\nchecked\nflushed\n"; string(got) != want {
		t.Errorf("events on the host:\n%s\nwant the checks while the files flush, and no rename before the flush ended:\n%s", got, want)
	}
	if b, err := os.ReadFile(bin); err != nil || !strings.Contains(string(b), "v2.99.0-test") {
		t.Errorf("the binary was not installed: %v", err)
	}
	noTemps(t, bin)
}

// A flush that fails (a disk error) installs nothing: the renames wait for
// it and do not happen, and the uploads are removed.
func TestPhaseInstallRefusesWhenTheFlushFails(t *testing.T) {
	h := newPhaseHost(t)
	h.srv.Command(t, "sync", "#!/bin/sh\necho 'sync: error syncing: Input/output error' >&2\nexit 1\n")
	bin, conf := h.path("opt/acme/nats/bin/nats-server"), h.path("etc/acme/nats/nats-server.conf")
	p := h.plan(t)
	log, err := h.run(t, p, installPhases()...)
	if err == nil || !strings.Contains(err.Error(), "could not flush the uploaded files to disk") {
		t.Fatalf("install with a failing flush: %v\n%s", err, log)
	}
	for _, f := range []string{bin, conf} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s installed although its flush failed (stat: %v)", f, err)
		}
	}
	noTemps(t, bin, conf)
}
