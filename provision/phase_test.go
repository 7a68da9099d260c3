package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/dcctl/dcctl/internal/sshtest"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/remote"
)

// The phases run here against the in-process sshd on this machine, with
// every path of the inventory under a fresh root. systemctl and journalctl
// are stand-ins (this machine's systemd must not get a test's unit): the
// systemctl one keeps the unit's state in files beside itself and logs
// every call to systemctl.log; its show prints the file show beside it,
// or the unit's states as systemd prints them when the facts ask.
const fakeSystemctl = `#!/bin/sh
d=$(dirname "$0")
echo "$*" >> "$d/systemctl.log"
case "$1" in
is-active) s=$(cat "$d/active" 2>/dev/null || echo inactive); [ "$2" = --quiet ] || echo "$s"; [ "$s" = active ]; exit ;;
is-enabled) cat "$d/enabled" 2>/dev/null || echo not-found ;;
show) case "$*" in
	*NeedDaemonReload*) cat "$d/show" 2>/dev/null ;;
	*UnitFileState*) e=$(cat "$d/enabled" 2>/dev/null); [ -n "$e" ] && echo LoadState=loaded || echo LoadState=not-found
		echo "UnitFileState=$e"; echo "ActiveState=$(cat "$d/active" 2>/dev/null || echo inactive)" ;;
	*) cat "$d/show" 2>/dev/null ;;
	esac ;;
enable) echo enabled > "$d/enabled"; if [ "$2" = --now ]; then echo active > "$d/active"; fi ;;
stop) echo inactive > "$d/active" ;;
start) echo active > "$d/active" ;;
restart|reload) if [ -e "$d/fail-$1" ]; then echo "Job for $2 failed." >&2; exit 1; fi ;;
esac
exit 0
`

const fakeJournalctl = "#!/bin/sh\necho 'nats-server: could not bind the client port'\n"

// phaseHost is one fixture host with the stand-ins in place; bin is where
// they live (and systemctl.log).
type phaseHost struct {
	s    *Session
	node *inventory.Node
	srv  *sshtest.Server
	root string
	bin  string
}

func newPhaseHost(t *testing.T) *phaseHost {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: provision sets owners (run as root, as scripts/test.sh does)")
	}
	root := hostRoot(t)
	s, node, srv := hostFixture(t, root, false)
	bin := srv.Command(t, "systemctl", fakeSystemctl)
	srv.Command(t, "journalctl", fakeJournalctl)
	return &phaseHost{s: s, node: node, srv: srv, root: root, bin: bin}
}

// plan plans the host afresh as if the unit file were in place: it would
// go to this machine's /etc/systemd/system.
func (h *phaseHost) plan(t *testing.T) *HostPlan {
	t.Helper()
	h.s.Forget(h.node.Name)
	bin, err := binaryFile(h.s.Inv)
	if err != nil {
		t.Fatal(err)
	}
	dirs, files, err := desired(h.s.Inv, h.s.Secrets, bin, h.node.Name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.s.Client(t.Context(), h.node.Name)
	if err != nil {
		t.Fatal(err)
	}
	facts, err := hostFacts(t.Context(), h.s, c, h.s.factsScriptFor(dirs, files))
	if err != nil {
		t.Fatal(err)
	}
	facts.Systemd = true
	for _, f := range files {
		if f.Kind == "unit" {
			facts.Files[f.Path] = FileFact{Exists: true, SHA256: f.SHA256, Mode: f.Mode, Owner: f.Owner, Group: f.Group}
			facts.Dirs[path.Dir(f.Path)] = FileFact{Exists: true, Mode: 0o755, Owner: "root", Group: "root"}
		}
	}
	p, err := planHost(t.Context(), h.s.Inv, h.s.Secrets, h.node, dirs, files, facts, fetcher(c))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (h *phaseHost) run(t *testing.T, p *HostPlan, phases ...phase) (string, error) {
	t.Helper()
	var log strings.Builder
	err := runOn(t, h.s, p, &log, phases)
	return log.String(), err
}

func (h *phaseHost) systemctlLog(t *testing.T) string {
	b, _ := os.ReadFile(filepath.Join(h.bin, "systemctl.log"))
	return string(b)
}

// installed runs the install and start phases on a fresh host.
func (h *phaseHost) installed(t *testing.T) {
	t.Helper()
	p := h.plan(t)
	if log, err := h.run(t, p, append(installPhases(), startPhases()...)...); err != nil {
		t.Fatalf("install: %v\n%s", err, log)
	}
}

func (h *phaseHost) path(p string) string { return filepath.Join(h.root, p) }

func noTemps(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p + remote.TempSuffix); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temporary file %s left behind (lstat: %v)", p+remote.TempSuffix, err)
		}
	}
}

// A fresh host's install and first start run four commands over SFTP
// (the prepare script; the verify, check and flush script; the renames go
// over SFTP, then the script of the rest of the install; the start
// script), eight over exec (each upload is one: the binary, the config, the
// three TLS files; the renames are the install script's). Before the
// phases: twelve. A server with fsync@openssh.com (OpenSSH's) changes
// nothing: the script flushes the uploads beside its checks.
func TestApplyRoundTripsFreshHost(t *testing.T) {
	for transfer, want := range map[string][2]int64{inventory.TransferSFTP: {3, 4}, inventory.TransferExec: {7, 8}, "sftp+fsync": {3, 4}} {
		t.Run(transfer, func(t *testing.T) {
			h := newPhaseHost(t)
			if transfer == "sftp+fsync" {
				transfer = inventory.TransferSFTP
				h.srv.SFTPFsync.Store(true)
			}
			h.node.SSH.Transfer = transfer
			p := h.plan(t)
			if p.Action != ActionStart || !p.Enable {
				t.Fatalf("plan of a fresh host: action %q, enable %v", p.Action, p.Enable)
			}
			before := h.srv.Execs()
			log, err := h.run(t, p, installPhases()...)
			if err != nil {
				t.Fatalf("install: %v\n%s", err, log)
			}
			install := h.srv.Execs() - before
			// The install enables the unit (without a reload here); the
			// first start, which every host of a new cluster makes at once,
			// is a bare start.
			if got := h.systemctlLog(t); !strings.Contains(got, "enable --no-reload dcctl-test-natsd.service") || strings.Contains(got, "start") {
				t.Errorf("systemctl calls of the install: %q, want the enable and no start", got)
			}
			if log, err := h.run(t, p, startPhases()...); err != nil {
				t.Fatalf("start: %v\n%s", err, log)
			}
			total := h.srv.Execs() - before
			if got := h.systemctlLog(t); !strings.HasSuffix(strings.TrimSpace(got), "start dcctl-test-natsd.service") || strings.Contains(got, "--now") {
				t.Errorf("systemctl calls with the start: %q, want a bare start last", got)
			}
			t.Logf("commands run on a fresh host: %d to install (unit file left out), %d with the start", install, total)
			if install != want[0] || total != want[1] {
				t.Errorf("a fresh host ran %d commands to install and %d in all, want %d and %d", install, total, want[0], want[1])
			}
		})
	}
}

// A staged file that is not what was sent (changed on the host between the
// upload and the install) is refused before anything runs or is renamed.
func TestPhaseVerifyUploadsRefusesAChangedFile(t *testing.T) {
	h := newPhaseHost(t)
	h.installed(t)
	bin, conf := h.path("opt/acme/nats/bin/nats-server"), h.path("etc/acme/nats/nats-server.conf")
	os.WriteFile(conf, []byte("# changed by hand\n"), 0o640)
	p := h.plan(t)
	tamper := runStub{"tamper", func() error { return os.WriteFile(conf+remote.TempSuffix, []byte("listen: 0.0.0.0:1\n"), 0o600) }}
	_, err := h.run(t, p, afterUploads(installPhases(), tamper)...)
	var pe *PhaseError
	if !errors.As(err, &pe) || pe.Phase != (verifyUploads{}).Title() || !strings.Contains(pe.Stderr, "incomplete upload, nothing installed") {
		t.Fatalf("install of a changed upload: %v", err)
	}
	if got, _ := os.ReadFile(conf); string(got) != "# changed by hand\n" {
		t.Errorf("config holds %q after a refused upload", got)
	}
	noTemps(t, bin, conf)
}

// afterUploads puts extra right after the phase that holds the uploads.
func afterUploads(phases []phase, extra phase) []phase {
	var with []phase
	for _, ph := range phases {
		with = append(with, ph)
		if _, ok := ph.(sideBySide); ok {
			with = append(with, extra)
		}
	}
	return with
}

// runStub is a runner phase that calls fn.
type runStub struct {
	title string
	fn    func() error
}

func (r runStub) Title() string                       { return r.title }
func (runStub) ShouldRun(*HostPlan) bool              { return true }
func (r runStub) Run(context.Context, *hostRun) error { return r.fn() }

// After an install and start, the next plan changes nothing; the marker
// records the files in effect, and the sums stamp spares the next facts
// every file's hash.
func TestPhasesInstallThenNothingToDo(t *testing.T) {
	h := newPhaseHost(t)
	h.installed(t)
	bin, conf := h.path("opt/acme/nats/bin/nats-server"), h.path("etc/acme/nats/nats-server.conf")
	noTemps(t, bin, conf)
	if got := h.systemctlLog(t); !strings.Contains(got, "enable --no-reload dcctl-test-natsd.service") || !strings.Contains(got, "start dcctl-test-natsd.service") {
		t.Errorf("systemctl calls %q lack the enable or the start", got)
	}
	p := h.plan(t)
	if p.Changed() {
		t.Errorf("second plan changes %v", p.Summary())
	}
	marker, err := os.ReadFile(markerPath(h.s.Inv))
	if err != nil || string(marker) != string(markerContent(p.Desired)) {
		t.Errorf("applied marker %q (%v), want %q", marker, err, markerContent(p.Desired))
	}
	assertMode(t, markerPath(h.s.Inv), 0o640)
	stamp, err := os.ReadFile(sumsPath(h.s.Inv))
	if err != nil {
		t.Fatal(err)
	}
	// Every installed file is stamped, so that the next facts hash none.
	for _, f := range p.Desired {
		if strings.HasPrefix(f.Path, h.root) && !strings.Contains(string(stamp), f.SHA256+" "+f.Path+"\n") {
			t.Errorf("sums stamp %q lacks %s", stamp, f.Path)
		}
	}
}

// A later install stamps the files it installs and keeps the other lines
// of the stamp: the binary, not installed again, keeps its sum there.
func TestPhaseInstallKeepsTheStampOfOtherFiles(t *testing.T) {
	h := newPhaseHost(t)
	h.installed(t)
	bin, conf := h.path("opt/acme/nats/bin/nats-server"), h.path("etc/acme/nats/nats-server.conf")
	before, _ := os.ReadFile(sumsPath(h.s.Inv))
	binLine := ""
	for _, l := range strings.Split(string(before), "\n") {
		if strings.HasSuffix(l, " "+bin) {
			binLine = l
		}
	}
	if binLine == "" {
		t.Fatalf("no stamp of the binary after the install: %q", before)
	}
	os.WriteFile(conf, []byte("# changed by hand\n"), 0o640)
	p := h.plan(t)
	if log, err := h.run(t, p, installPhases()...); err != nil {
		t.Fatalf("install: %v\n%s", err, log)
	}
	after, _ := os.ReadFile(sumsPath(h.s.Inv))
	var confSum string
	for _, f := range p.Desired {
		if f.Path == conf {
			confSum = f.SHA256
		}
	}
	if !strings.Contains(string(after), binLine+"\n") || !strings.Contains(string(after), " "+confSum+" "+conf+"\n") || strings.Count(string(after), " "+conf+"\n") != 1 {
		t.Errorf("stamp after installing the config again:\n%s\nwant the binary's line kept and one line of the config with its new sum", after)
	}
}

// A binary that does not run on the host installs nothing: neither the
// binary nor the config uploaded with it, and no temporary file stays.
func TestPhaseCheckBinaryRefusesABinaryThatDoesNotRun(t *testing.T) {
	h := newPhaseHost(t)
	h.installed(t)
	bin, conf := h.path("opt/acme/nats/bin/nats-server"), h.path("etc/acme/nats/nats-server.conf")
	oldBin, _ := os.ReadFile(bin)
	oldConf, _ := os.ReadFile(conf)
	os.WriteFile(h.s.Inv.NATS.Binary, []byte("#!/bin/sh\necho 'cannot execute binary file: Exec format error' >&2\nexit 126\n"), 0o755)
	os.WriteFile(conf, []byte("# changed by hand\n"), 0o640)
	p := h.plan(t)
	log, err := h.run(t, p, installPhases()...)
	if err == nil || !errors.Is(err, remote.ErrCheckFailed) || !strings.Contains(err.Error(), "Exec format error") {
		t.Fatalf("install of a binary that does not run: %v\n%s", err, log)
	}
	if got, _ := os.ReadFile(bin); string(got) != string(oldBin) {
		t.Error("the installed binary was replaced")
	}
	if got, _ := os.ReadFile(conf); string(got) == string(oldConf) {
		t.Error("the config was installed although the binary uploaded with it does not run")
	}
	noTemps(t, bin, conf)
}

// A fresh host's new binary runs once before it is installed: -t on the
// new configuration proves it runs, and --version runs only when -t fails
// (TestPhaseCheckBinaryRefusesABinaryThatDoesNotRun); a new binary alone
// is still run with --version before it is staged
// (TestPhasesNewBinaryIsStagedThenSwapped).
func TestFreshInstallRunsTheNewBinaryOnce(t *testing.T) {
	h := newPhaseHost(t)
	runs := filepath.Join(t.TempDir(), "runs")
	os.WriteFile(h.s.Inv.NATS.Binary, []byte("#!/bin/sh\necho \"$1\" >> '"+runs+"'\n"+strings.TrimPrefix(fakeNATSServer, "#!/bin/sh\n")), 0o755)
	p := h.plan(t)
	if log, err := h.run(t, p, installPhases()...); err != nil {
		t.Fatalf("install: %v\n%s", err, log)
	}
	b, _ := os.ReadFile(runs)
	if got := strings.Fields(string(b)); !slices.Equal(got, []string{"-t"}) {
		t.Errorf("the new binary ran with %q, want only -t", got)
	}
}

// A config the new nats-server rejects stays out, and so does the binary
// that rejected it; the error names the live path and hides passwords.
func TestPhaseCheckConfigRejectedInstallsNothing(t *testing.T) {
	h := newPhaseHost(t)
	h.installed(t)
	bin, conf := h.path("opt/acme/nats/bin/nats-server"), h.path("etc/acme/nats/nats-server.conf")
	oldBin, _ := os.ReadFile(bin)
	pw := h.s.Secrets.Password("app")
	if pw == "" {
		t.Fatal("fixture has no password for app")
	}
	os.WriteFile(h.s.Inv.NATS.Binary, []byte("#!/bin/sh\ncase \"$1\" in --version) echo v9;; -t) echo \"$3: bad value near '"+pw+"'\" >&2; exit 1;; esac\n"), 0o755)
	os.WriteFile(conf, []byte("# changed by hand\n"), 0o640)
	p := h.plan(t)
	log, err := h.run(t, p, installPhases()...)
	if err == nil || !strings.Contains(err.Error(), "nats-server rejected the new configuration") {
		t.Fatalf("install of a rejected config: %v\n%s", err, log)
	}
	if strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), conf+":") {
		t.Errorf("error shows a password or not the live path: %v", err)
	}
	if got, _ := os.ReadFile(conf); string(got) != "# changed by hand\n" {
		t.Error("a rejected config was installed")
	}
	if got, _ := os.ReadFile(bin); string(got) != string(oldBin) {
		t.Error("the binary was installed with a config it rejected")
	}
	noTemps(t, bin, conf)
	if _, err := os.Stat(filepath.Join(h.s.Inv.NATS.ConfigDir, ".dcctl-check")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("check directory left behind: %v", err)
	}
}

// Leftover temporary files of an interrupted run go; a file whose content
// is right but mode is not gets its mode back: in one round trip.
func TestPhasesCleanTempAndFixModes(t *testing.T) {
	h := newPhaseHost(t)
	h.installed(t)
	conf := h.path("etc/acme/nats/nats-server.conf")
	os.WriteFile(conf+remote.TempSuffix, []byte("half an upload"), 0o600)
	os.Chmod(conf, 0o644)
	p := h.plan(t)
	if len(p.CleanTemp) != 1 || len(p.Files) != 1 || !p.Files[0].ModeOnly {
		t.Fatalf("plan: temp %v, files %v", p.CleanTemp, p.Summary())
	}
	before := h.srv.Execs()
	if log, err := h.run(t, p, installPhases()...); err != nil {
		t.Fatalf("install: %v\n%s", err, log)
	}
	if n := h.srv.Execs() - before; n != 1 {
		t.Errorf("%d round trips, want 1", n)
	}
	noTemps(t, conf)
	assertMode(t, conf, 0o640)
}

// A change that needs a restart or reload runs three commands on a host
// over SFTP (the verify, check and flush script; the renames go over SFTP,
// then the rest of the install; the reload-and-record script), three over
// exec (the upload; the install script; the reload), besides the gates'
// reads of the monitoring endpoints (through tunnels).
func TestPhasesReloadRecordsTheMarker(t *testing.T) {
	for transfer, want := range map[string]int64{inventory.TransferSFTP: 3, inventory.TransferExec: 3} {
		t.Run(transfer, func(t *testing.T) {
			h := newPhaseHost(t)
			h.node.SSH.Transfer = transfer
			h.installed(t)
			os.Remove(markerPath(h.s.Inv))
			conf := h.path("etc/acme/nats/nats-server.conf")
			os.WriteFile(conf, []byte("# changed by hand\n"), 0o640)
			p := h.plan(t)
			p.Action = ActionReload // what planHost decides for a reloadable change
			before := h.srv.Execs()
			if log, err := h.run(t, p, installPhases()...); err != nil {
				t.Fatalf("install: %v\n%s", err, log)
			}
			if log, err := h.run(t, p, reloadUnit{}, recordApplied{}); err != nil {
				t.Fatalf("reload: %v\n%s", err, log)
			}
			if n := h.srv.Execs() - before; n != want {
				t.Errorf("%d commands, want %d", n, want)
			}
			if !strings.Contains(h.systemctlLog(t), "reload dcctl-test-natsd.service") {
				t.Errorf("no reload among %q", h.systemctlLog(t))
			}
			if _, err := os.Stat(markerPath(h.s.Inv)); err != nil {
				t.Errorf("no applied marker after the reload: %v", err)
			}
		})
	}
}

// A restart that fails stops the script before the marker, and the error
// carries the unit's last log lines.
func TestPhaseRestartFailureShowsTheJournal(t *testing.T) {
	h := newPhaseHost(t)
	h.installed(t)
	os.Remove(markerPath(h.s.Inv))
	os.WriteFile(filepath.Join(h.bin, "fail-restart"), nil, 0o644)
	p := h.plan(t)
	p.Action = ActionRestart
	_, err := h.run(t, p, restartUnit{}, recordApplied{})
	if err == nil || !strings.Contains(err.Error(), "restart: Job for") || !strings.Contains(err.Error(), "could not bind the client port") {
		t.Fatalf("failed restart: %v", err)
	}
	if _, err := os.Stat(markerPath(h.s.Inv)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("applied marker written after a failed restart: %v", err)
	}
}

// An enabled-but-not-running node that is left stopped by an operator gets
// its files and the marker, and no systemctl enable or start.
func TestPhasesLeaveAStoppedNodeStopped(t *testing.T) {
	h := newPhaseHost(t)
	h.installed(t)
	os.WriteFile(filepath.Join(h.bin, "active"), []byte("inactive\n"), 0o644)
	os.WriteFile(filepath.Join(h.bin, "enabled"), []byte("disabled\n"), 0o644)
	os.WriteFile(stopMarkerPath(h.s.Inv), []byte("ops@desk at 2026-01-01T00:00:00Z\n"), 0o640)
	os.Remove(markerPath(h.s.Inv))
	os.WriteFile(h.path("etc/acme/nats/nats-server.conf"), []byte("# changed by hand\n"), 0o640)
	p := h.plan(t)
	os.Remove(filepath.Join(h.bin, "systemctl.log"))
	if !p.LeftStopped || p.Action != ActionNone || p.Enable {
		t.Fatalf("plan: left stopped %v, action %q, enable %v", p.LeftStopped, p.Action, p.Enable)
	}
	if log, err := h.run(t, p, installPhases()...); err != nil {
		t.Fatalf("install: %v\n%s", err, log)
	}
	if got := h.systemctlLog(t); got != "" {
		t.Errorf("systemctl called for a stopped node: %q", got)
	}
	if _, err := os.Stat(markerPath(h.s.Inv)); err != nil {
		t.Errorf("no applied marker: %v", err)
	}
}

// scriptStub is a phase made of a given piece of shell, to test the batch.
type scriptStub struct{ title, script string }

func (s scriptStub) Title() string             { return s.title }
func (scriptStub) ShouldRun(*HostPlan) bool    { return true }
func (s scriptStub) Script(*hostRun) string    { return s.script }
func (scriptStub) Done(h *hostRun, out string) { h.say("out: " + strings.TrimSpace(out)) }

// Consecutive scripters run as one script; the first that fails is named
// with its status and stderr, and what follows it does not run.
func TestScriptsRunAsOneAndNameTheFailedPhase(t *testing.T) {
	h := newPhaseHost(t)
	p := h.plan(t)
	after := filepath.Join(h.root, "after")
	before := h.srv.Execs()
	_, err := h.run(t, p,
		scriptStub{"first", "echo one"},
		scriptStub{"second", "echo 'disk full' >&2; return 3"},
		scriptStub{"third", "touch " + shellQuote(after)},
	)
	var pe *PhaseError
	if !errors.As(err, &pe) || pe.Phase != "second" || pe.Status != 3 || pe.Stderr != "disk full" {
		t.Fatalf("error %#v (%v), want phase second, status 3, stderr \"disk full\"", pe, err)
	}
	if n := h.srv.Execs() - before; n != 1 {
		t.Errorf("%d round trips, want 1", n)
	}
	if _, err := os.Stat(after); !errors.Is(err, os.ErrNotExist) {
		t.Error("the phase after the failed one ran")
	}
	log, err := h.run(t, p, scriptStub{"a", "echo a"}, scriptStub{"b", "echo b"})
	if err != nil || !strings.Contains(log, "out: a\nb") {
		t.Errorf("two pieces: %v, log %q", err, log)
	}
}

// A cancelled context stops the phases where they are.
func TestPhasesStopWhenCancelled(t *testing.T) {
	h := newPhaseHost(t)
	p := h.plan(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	c, err := h.s.Client(t.Context(), h.node.Name)
	if err != nil {
		t.Fatal(err)
	}
	hr := &hostRun{s: h.s, p: p, c: c, log: &lineLog{}}
	if err := runPhases(ctx, hr, installPhases()); err == nil {
		t.Fatal("phases ran under a cancelled context")
	}
	if _, err := os.Stat(h.s.Inv.NATS.InstallPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("binary installed under a cancelled context: %v", err)
	}
}

func assertMode(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Errorf("%s: %v", p, err)
		return
	}
	if st.Mode().Perm() != mode {
		t.Errorf("%s: mode %o, want %o (uid %d)", p, st.Mode().Perm(), mode, st.Sys().(*syscall.Stat_t).Uid)
	}
}

// A new binary on a running host is an upgrade, two commands over SFTP:
// the verify, check and stage script leaves it beside the installed one as
// .next (the running server's binary untouched), then the swap script stops
// the unit, keeps the old binary as .previous, swaps and starts (the gates
// read the monitoring endpoints through tunnels, not commands). Afterwards
// the plan has nothing left to do: the sums stamp and the applied marker
// follow the swapped file. Also to an sftp-server that flushes and
// renames (the rename to .next then goes over SFTP, and no script follows
// it: there is nothing to stamp).
func TestPhasesNewBinaryIsStagedThenSwapped(t *testing.T) {
	for _, fsync := range []bool{false, true} {
		t.Run(fmt.Sprintf("fsync@openssh.com %v", fsync), func(t *testing.T) { newBinaryIsStagedThenSwapped(t, fsync) })
	}
}

func newBinaryIsStagedThenSwapped(t *testing.T, fsync bool) {
	h := newPhaseHost(t)
	h.srv.SFTPFsync.Store(fsync)
	h.installed(t)
	install := h.s.Inv.NATS.InstallPath
	old, _ := os.ReadFile(install)
	os.WriteFile(h.s.Inv.NATS.Binary, []byte(fakeNATSServer+"# v2\n"), 0o755)
	p := h.plan(t)
	if p.Action != ActionRestart || !p.Upgrade || len(p.Files) != 1 || p.Files[0].File.Kind != "binary" {
		t.Fatalf("plan: action %q, upgrade %v, changes %v", p.Action, p.Upgrade, p.Summary())
	}
	before := h.srv.Execs()
	if log, err := h.run(t, p, installPhases()...); err != nil {
		t.Fatalf("install: %v\n%s", err, log)
	}
	if got, _ := os.ReadFile(install); string(got) != string(old) {
		t.Fatal("the staging replaced the installed binary")
	}
	if got, _ := os.ReadFile(install + NextSuffix); !strings.HasSuffix(string(got), "# v2\n") {
		t.Fatal("the new binary is not staged as .next")
	}
	if p.UpgradeTo != "2.99.0-test" {
		t.Errorf("release to check after the swap: %q, want the one the staged binary printed", p.UpgradeTo)
	}
	stamped := stampedPaths(t, h)
	if len(stamped) < 2 {
		t.Fatalf("sums stamp before the swap names %v, want the binary and the other installed files", stamped)
	}
	if log, err := h.run(t, p, swapBinary{}, recordApplied{}); err != nil {
		t.Fatalf("swap: %v\n%s", err, log)
	}
	// The swap updates the binary's line and keeps every other file's:
	// the next provision hashes none of them again.
	if got := stampedPaths(t, h); !slices.Equal(got, stamped) {
		t.Errorf("sums stamp after the swap names %v, want %v", got, stamped)
	}
	if n := h.srv.Execs() - before; n != 2 {
		t.Errorf("%d commands, want 2", n)
	}
	if got, _ := os.ReadFile(install); !strings.HasSuffix(string(got), "# v2\n") {
		t.Error("the new binary is not installed")
	}
	if got, _ := os.ReadFile(install + PreviousSuffix); string(got) != string(old) {
		t.Error("the old binary is not kept as .previous")
	}
	if _, err := os.Stat(install + NextSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".next left behind: %v", err)
	}
	if log := h.systemctlLog(t); !strings.Contains(log, "stop dcctl-test-natsd.service") || !strings.Contains(log, "start dcctl-test-natsd.service") || strings.Contains(log, "restart") {
		t.Errorf("systemctl calls %q, want a stop and a start", log)
	}
	if p2 := h.plan(t); p2.Changed() {
		t.Errorf("plan after the swap changes %v", p2.Summary())
	}
}

// A cutover (every node restarted at once, to switch TLS) of a node that
// also gets a new binary swaps the binary in with that restart: the node is
// not rolled afterwards, so without the swap it would keep the old binary
// while its applied marker named the new one.
func TestCutoverOfAnUpgradeSwapsTheBinary(t *testing.T) {
	h := newPhaseHost(t)
	h.installed(t)
	install := h.s.Inv.NATS.InstallPath
	os.WriteFile(h.s.Inv.NATS.Binary, []byte(fakeNATSServer+"# v2\n"), 0o755)
	p := h.plan(t)
	if !p.Upgrade {
		t.Fatalf("plan: upgrade %v, changes %v", p.Upgrade, p.Summary())
	}
	if log, err := h.run(t, p, installPhases()...); err != nil {
		t.Fatalf("install: %v\n%s", err, log)
	}
	if log, err := h.run(t, p, cutoverPhases()...); err != nil {
		t.Fatalf("cutover: %v\n%s", err, log)
	}
	if got, _ := os.ReadFile(install); !strings.HasSuffix(string(got), "# v2\n") {
		t.Error("the cutover left the old binary installed")
	}
	if p2 := h.plan(t); p2.Changed() {
		t.Errorf("plan after the cutover changes %v", p2.Summary())
	}
}

// stampedPaths are the files the host's sums stamp names, in order.
func stampedPaths(t *testing.T, h *phaseHost) []string {
	t.Helper()
	b, err := os.ReadFile(sumsPath(h.s.Inv))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			paths = append(paths, f[2])
		}
	}
	slices.Sort(paths)
	return paths
}

// A rollback puts .previous back with the same script, and only once:
// afterwards there is no .previous to swap in, and the swap says so.
func TestPhaseSwapRollsBackOnce(t *testing.T) {
	h := newPhaseHost(t)
	h.installed(t)
	install := h.s.Inv.NATS.InstallPath
	old, _ := os.ReadFile(install)
	os.WriteFile(install+NextSuffix, []byte(fakeNATSServer+"# v2\n"), 0o755)
	up := &HostPlan{Node: h.node, Action: ActionRestart, Upgrade: true}
	if log, err := h.run(t, up, swapBinary{}); err != nil {
		t.Fatalf("swap: %v\n%s", err, log)
	}
	back := &HostPlan{Node: h.node, Action: ActionRestart, Upgrade: true, Rollback: true}
	if log, err := h.run(t, back, swapBinary{}); err != nil {
		t.Fatalf("rollback: %v\n%s", err, log)
	}
	if got, _ := os.ReadFile(install); string(got) != string(old) {
		t.Error("the rollback did not put the old binary back")
	}
	_, err := h.run(t, back, swapBinary{})
	if err == nil || !strings.Contains(err.Error(), PreviousSuffix+" is missing") {
		t.Errorf("second rollback: %v, want .previous missing", err)
	}
	if got, _ := os.ReadFile(install); string(got) != string(old) {
		t.Error("a refused rollback changed the installed binary")
	}
}
