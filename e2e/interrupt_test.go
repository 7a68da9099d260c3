package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/runbooks"
)

// TestInterruptMidRollout sends Ctrl-C (SIGINT) to dcctl once the first
// node's restart has begun, first in provision's own rollout, then in the
// rolling-restart runbook run under `timeout -s INT` (which delivers its
// signal twice: to dcctl, then to its process group), and judges by the
// hosts: exit 130, the node under way finished its restart and is healthy
// (its gate passed: status is healthy at once), no further node restarted,
// every config either the old or the new one (never a partial file), the
// lock released, the runbook's journal closed with "interrupted", and a new
// run that gets the lock at once and converges.
func TestInterruptMidRollout(t *testing.T) {
	ensureProvisioned(t)
	clearLocks(t)
	t.Cleanup(func() { clearLocks(t) })
	tr := &transcript{}
	nodes := []string{"us_1", "us_2", "us_3"}
	const conf = "/etc/nats/nats-server.conf"
	before := map[string]string{}
	for _, n := range nodes {
		before[n] = hostSHA(t, n, conf)
	}
	// max_file_store is not hot-reloadable: a rolling restart of US.
	changed := copyInventory(t, tr, "max_file_store = \"3GB\"\n")
	limit := strings.Join(nodes, ",")
	t.Cleanup(func() { restoreLab(t, tr, "--limit", limit) })

	// provision: SIGINT once it says it restarts the first node.
	run := startLive(t, "provision", changed, "--limit", limit)
	run.waitFor(t, "provision's first restart", func(out string) bool { return strings.Contains(out, "restarting (") })
	run.interrupt(t)
	out, errOut, code := run.wait(t)
	if code != 130 {
		t.Fatalf("interrupted provision: exit %d, want 130\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "interrupted (SIGINT)") || !strings.Contains(errOut, "interrupt (SIGINT): finishing restart of us_") {
		t.Errorf("interrupted provision does not say what it finishes and that it was interrupted:\n%s", errOut)
	}
	if n := strings.Count(out, "not restarted: the run was stopped: interrupted (SIGINT)"); n != len(nodes)-1 {
		t.Errorf("%d node(s) left unrestarted by the interrupt, want %d (all but the one under way):\n%s", n, len(nodes)-1, out)
	}
	if l := locksOnHosts(t); len(l) != 0 {
		t.Errorf("locks left by the interrupted provision: %v", l)
	}
	// The node under way finished behind its gate: healthy at once.
	if sout, serr, code := tr.dcctl(t, "status", changed); code != 0 {
		t.Errorf("status right after the interrupted provision: exit %d\n%s%s", code, sout, serr)
	}
	mid := map[string]string{}
	for _, n := range nodes {
		mid[n] = hostSHA(t, n, conf)
		if left := strings.TrimSpace(sshHost(t, n, leftoversCmd)); left != "" {
			t.Logf("%s: temporary files right after the interrupt (the next run removes them): %s", n, left)
		}
	}

	// A new run gets the lock at once (no "locked by", no takeover of an
	// expired lock) and converges.
	out, errOut, code = tr.dcctl(t, "provision", changed, "--limit", limit)
	if code != 0 || strings.Contains(errOut, "replaced the lock") {
		t.Fatalf("provision after the interrupt: exit %d\n%s%s", code, out, errOut)
	}
	for _, n := range nodes {
		after := hostSHA(t, n, conf)
		if mid[n] != before[n] && mid[n] != after {
			t.Errorf("%s: after the interrupt %s had sha256 %s: neither the old (%s) nor the new config (%s)", n, conf, mid[n], before[n], after)
		}
		if left := strings.TrimSpace(sshHost(t, n, leftoversCmd)); left != "" {
			t.Errorf("%s: temporary files after the next run: %s", n, left)
		}
	}
	if out, _, code := tr.dcctl(t, "plan", changed, "--limit", limit); code != 0 || !strings.Contains(out, "0 of 3 hosts to change") {
		t.Errorf("plan after the converging run: exit %d\n%s", code, out)
	}

	// The runbook, under `timeout -s INT`: its timeout fires (SIGALRM to
	// timeout does what its expiry does) once the first node's unit began
	// to stop, while the step is under way.
	exits := map[string]uint64{}
	enters := map[string]uint64{}
	for _, n := range nodes {
		exits[n], enters[n] = unitTimes(t, n)
	}
	run = startLiveProg(t, "timeout", "--preserve-status", "-s", "INT", "1h", filepath.Join(repoRoot(), "bin", "dcctl"), "runbook", "rolling-restart", "--cluster", "US", "--yes", changed)
	var first string
	testwait.Eventually(t, 3*time.Minute, "the runbook's first restart", func() error {
		for _, n := range nodes {
			if e, _ := unitTimes(t, n); e != exits[n] {
				first = n
				return nil
			}
		}
		if run.exited() {
			return errors.New("the runbook ended before restarting anything:\n" + run.output())
		}
		return errors.New("no node restarted yet")
	})
	if err := run.cmd.Process.Signal(syscall.SIGALRM); err != nil {
		t.Fatalf("SIGALRM to timeout: %v", err)
	}
	out, errOut, code = run.wait(t)
	if code != 130 {
		t.Fatalf("rolling-restart under timeout -s INT: exit %d, want 130\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "interrupt (SIGINT): finishing step 1/3 restart("+first+") then stopping") || strings.Contains(errOut, "aborting") {
		t.Errorf("timeout's signal (delivered twice) did not let restart(%s) finish, or was taken for a second Ctrl-C:\n%s", first, errOut)
	}
	if !strings.Contains(out, first+" back and current") || !strings.Contains(out, "stopped before step 2/3") {
		t.Errorf("the log does not show restart(%s) ending behind its gate and the run stopping before the next step:\n%s", first, out)
	}
	for _, n := range nodes {
		_, e := unitTimes(t, n)
		if restarted := e != enters[n]; restarted != (n == first) {
			t.Errorf("%s restarted: %v; only %s, the node under way, should have been", n, restarted, first)
		}
	}
	if sout, serr, code := tr.dcctl(t, "status", changed); code != 0 {
		t.Errorf("status right after the interrupted rolling-restart: exit %d\n%s%s", code, sout, serr)
	}
	entries := journalOf(t, out)
	if !slices.ContainsFunc(entries, func(e runbooks.Entry) bool { return e.Name == "restart("+first+")" && e.Result == "ok" }) {
		t.Errorf("the journal does not record restart(%s) ok: %+v", first, entries)
	}
	last := entries[len(entries)-1]
	if last.Phase != "run" || last.Result != "interrupted" || !strings.Contains(last.Error, "SIGINT") {
		t.Errorf("the journal's last entry is %+v, want the run interrupted (SIGINT)", last)
	}
	if l := locksOnHosts(t); len(l) != 0 {
		t.Errorf("locks left by the interrupted runbook: %v", l)
	}
	// The cleanup's provision of the lab inventory is the next run: it must
	// get the lock at once too (restoreLab fails on any refusal).
}

// leftoversCmd lists dcctl's temporary files and staging directories on a host.
const leftoversCmd = `find / -xdev \( -name '*.dcctl-tmp' -o -name '.dcctl-check' \) -print 2>/dev/null || true`

// liveRun is a dcctl run whose output can be read while it runs.
type liveRun struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	err  bytes.Buffer
	done chan struct{}
	code int
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func startLive(t *testing.T, args ...string) *liveRun {
	t.Helper()
	return startLiveProg(t, filepath.Join(repoRoot(), "bin", "dcctl"), args...)
}

// startLiveProg starts prog (dcctl, or a wrapper such as timeout that
// runs it).
func startLiveProg(t *testing.T, prog string, args ...string) *liveRun {
	t.Helper()
	r := &liveRun{done: make(chan struct{})}
	r.cmd = exec.Command(prog, args...)
	r.cmd.Dir = repoRoot()
	r.cmd.Stdout = lockedWriter{&r.mu, &r.out}
	r.cmd.Stderr = lockedWriter{&r.mu, &r.err}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start dcctl %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		err := r.cmd.Wait()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			r.code = exit.ExitCode()
		case err != nil:
			r.code = -1
		}
		close(r.done)
	}()
	// A failing test must not leave a dcctl holding the deployment lock.
	t.Cleanup(func() {
		if !r.exited() {
			syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL) // timeout's group: dcctl too
			r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *liveRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String() + r.err.String()
}

func (r *liveRun) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *liveRun) waitFor(t *testing.T, what string, seen func(string) bool) {
	t.Helper()
	testwait.Eventually(t, 5*time.Minute, what, func() error {
		out := r.output()
		switch {
		case seen(out):
			return nil
		case r.exited():
			return fmt.Errorf("dcctl ended first:\n%s", out)
		}
		return errors.New("not yet")
	})
}

func (r *liveRun) interrupt(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("SIGINT: %v", err)
	}
}

// wait waits for the run to end; the bound only keeps a hung dcctl from
// hanging the test.
func (r *liveRun) wait(t *testing.T) (string, string, int) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(2 * time.Minute):
		r.cmd.Process.Signal(syscall.SIGKILL)
		t.Fatalf("dcctl %s did not end after SIGINT:\n%s", strings.Join(r.cmd.Args[1:], " "), r.output())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Logf("dcctl %s -> exit %d", strings.Join(r.cmd.Args[1:], " "), r.code)
	return r.out.String(), r.err.String(), r.code
}

// TestLockLostMidRun: while a rolling restart of every cluster runs, a
// second operator breaks its lock (`node start --break-lock` on a running
// node: a no-op that takes the lock and gives it back). The first run's
// next heartbeat finds its lock gone: it stops before its next step, says
// so, exits 1 and journals why; the nodes after that step are not
// restarted.
func TestLockLostMidRun(t *testing.T) {
	ensureProvisioned(t)
	clearLocks(t)
	t.Cleanup(func() { clearLocks(t) })
	tr := &transcript{}
	inv := labInventory(t)
	var nodes []string
	for _, n := range activeNodes(t) {
		nodes = append(nodes, n.Name)
	}
	enters := map[string]uint64{}
	for _, n := range nodes {
		_, enters[n] = unitTimes(t, n)
	}
	run := startLive(t, "runbook", "rolling-restart", "--yes", inv)
	testwait.Eventually(t, 3*time.Minute, "the runbook's first restart", func() error {
		for _, n := range nodes {
			if _, e := unitTimes(t, n); e != enters[n] {
				return nil
			}
		}
		if run.exited() {
			return errors.New("the runbook ended before restarting anything:\n" + run.output())
		}
		return errors.New("no node restarted yet")
	})
	out, errOut, code := tr.dcctl(t, "node", "start", nodes[0], inv, "--break-lock")
	if code != 0 || !strings.Contains(errOut, "replaced the lock") {
		t.Fatalf("node start --break-lock: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run.wait(t)
	if code != 1 || !strings.Contains(out+errOut, "lock lost on") {
		t.Fatalf("rolling-restart whose lock was broken: exit %d, want 1 saying the lock was lost\n%s%s", code, out, errOut)
	}
	restarted := 0
	for _, n := range nodes {
		if _, e := unitTimes(t, n); e != enters[n] {
			restarted++
		}
	}
	t.Logf("%d of %d nodes restarted before the run stopped", restarted, len(nodes))
	if restarted == len(nodes) {
		t.Errorf("every node was restarted: the run did not stop")
	}
	entries := journalOf(t, out)
	last := entries[len(entries)-1]
	if last.Phase != "run" || last.Result != "interrupted" || !strings.Contains(last.Error, "lock lost on") {
		t.Errorf("the journal's last entry is %+v, want the run interrupted: lock lost", last)
	}
	if l := locksOnHosts(t); len(l) != 0 {
		t.Errorf("locks left: %v", l)
	}
	// The next test expects a healthy lab: the run stopped while the node
	// it restarted was still coming back.
	waitLabHealthy(t, inv)
}

// journalOf reads the journal a runbook's output names.
func journalOf(t *testing.T, out string) []runbooks.Entry {
	t.Helper()
	jpath := ""
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "journal: "); ok {
			jpath = p
		}
	}
	entries, err := runbooks.ReadJournal(jpath)
	if err != nil || len(entries) == 0 {
		t.Fatalf("journal %q: %v\n%s", jpath, err, out)
	}
	return entries
}

// TestSecondInterruptAborts: a second Ctrl-C, a moment after the first,
// aborts the step under way (a node's restart, waiting out its lame duck
// stop): dcctl says so, exits 130 without waiting for the restart and its
// gate, journals the run interrupted and still releases the lock.
func TestSecondInterruptAborts(t *testing.T) {
	ensureProvisioned(t)
	clearLocks(t)
	t.Cleanup(func() { clearLocks(t) })
	inv := labInventory(t)
	var nodes []string
	for _, n := range activeNodes(t) {
		if n.Cluster == "US" {
			nodes = append(nodes, n.Name)
		}
	}
	exits := map[string]uint64{}
	for _, n := range nodes {
		exits[n], _ = unitTimes(t, n)
	}
	run := startLive(t, "runbook", "rolling-restart", "--cluster", "US", "--yes", inv)
	var first string
	testwait.Eventually(t, 3*time.Minute, "the runbook's first restart", func() error {
		for _, n := range nodes {
			if e, _ := unitTimes(t, n); e != exits[n] {
				first = n
				return nil
			}
		}
		if run.exited() {
			return errors.New("the runbook ended before restarting anything:\n" + run.output())
		}
		return errors.New("no node restarted yet")
	})
	run.interrupt(t)
	firstAt := time.Now()
	run.waitFor(t, "the first interrupt's notice", func(out string) bool {
		return strings.Contains(out, "interrupt (SIGINT): finishing step 1/3 restart("+first+")")
	})
	// An operator's second Ctrl-C comes later than the window in which a
	// second signal counts as the first one delivered again.
	time.Sleep(time.Until(firstAt.Add(1500 * time.Millisecond)))
	run.interrupt(t)
	out, errOut, code := run.wait(t)
	if code != 130 || !strings.Contains(errOut, "again: aborting now") {
		t.Fatalf("second Ctrl-C: exit %d, want 130 saying it aborts\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, first+" back and current") {
		t.Errorf("restart(%s) ran to its end: the second Ctrl-C did not abort it\n%s", first, out)
	}
	entries := journalOf(t, out)
	if !slices.ContainsFunc(entries, func(e runbooks.Entry) bool {
		return e.Name == "restart("+first+")" && e.Result == "failed" && strings.Contains(e.Error, "interrupted (SIGINT)")
	}) {
		t.Errorf("the journal does not record restart(%s) cut short by the interrupt: %+v", first, entries)
	}
	if last := entries[len(entries)-1]; last.Phase != "run" || last.Result != "interrupted" {
		t.Errorf("the journal's last entry is %+v, want the run interrupted", last)
	}
	if l := locksOnHosts(t); len(l) != 0 {
		t.Errorf("locks left by the aborted runbook: %v", l)
	}
	// systemd finishes the restart it was given: the lab is whole again
	// without help, for the next test.
	waitLabHealthy(t, inv)
}

// waitLabHealthy waits until dcctl status says the lab is healthy: a test
// that stopped a run mid-restart leaves the whole lab to the next test.
func waitLabHealthy(t *testing.T, inv string) {
	t.Helper()
	testwait.Eventually(t, 3*time.Minute, "the lab healthy again", func() error {
		if _, errOut, code := runDcctl(t, "status", inv); code != 0 {
			return fmt.Errorf("status exit %d: %s", code, errOut)
		}
		return nil
	})
}
