package lock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcctl/dcctl/remote"
)

// shHost runs the lock's scripts with the real sh, flock, stat and touch of
// this machine, in a directory of its own that stands for one host's file
// system (the lock path is relative in these tests). Only the SSH transport
// is left out; e2e/reliability_test.go takes the lock on real hosts.
type shHost struct {
	name, root string
	broken     bool   // the "connection" is gone: every Run fails like a dropped SSH connection
	slow       string // a command run first: a host (or a loaded machine) slow to start a command
	path       string // PATH for its commands, "" for this process's
	shell      string // the shell that runs its commands, "" for sh
	loseAnswer bool   // the next command runs, and its answer is lost as with a dropped connection
	runs       int    // commands run, each an SSH session on a real host
	tries      int    // commands asked for, run or not (broken)
}

func (h *shHost) Name() string { return h.name }

func (h *shHost) Run(ctx context.Context, cmd string) ([]byte, []byte, error) {
	return h.RunInput(ctx, cmd, nil)
}

func (h *shHost) RunInput(ctx context.Context, cmd string, stdin io.Reader) ([]byte, []byte, error) {
	h.tries++
	if h.broken {
		return nil, nil, fmt.Errorf("ssh: connection to %s lost", h.name)
	}
	h.runs++
	shell := h.shell
	if shell == "" {
		shell = "sh"
	}
	c := exec.CommandContext(ctx, shell, "-c", h.slow+cmd)
	c.Dir = h.root
	c.Stdin = stdin
	if h.path != "" {
		c.Env = append(os.Environ(), "PATH="+h.path)
	}
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	if h.loseAnswer {
		h.loseAnswer = false
		return out.Bytes()[:out.Len()/2], nil, fmt.Errorf("ssh: connection to %s lost", h.name)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.Bytes(), errb.Bytes(), &remote.ExitError{Host: h.name, Cmd: cmd, Code: exit.ExitCode(), Stderr: errb.Bytes()}
	}
	return out.Bytes(), errb.Bytes(), err
}

const testPath = "run/dcctl/deployment.lock"

// noLock says why path is a lock: a file with something in it. Absent or
// empty (as a release leaves it) is no lock.
func noLock(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case st.Size() > 0:
		return fmt.Errorf("a lock of %d bytes", st.Size())
	}
	return nil
}

func newHosts(t *testing.T, names ...string) []Host {
	t.Helper()
	var hs []Host
	for _, n := range names {
		root := filepath.Join(t.TempDir(), n)
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		hs = append(hs, &shHost{name: n, root: root})
	}
	return hs
}

func lockFile(h Host) string { return filepath.Join(h.(*shHost).root, testPath) }

func holder(who string) Holder {
	return Holder{ID: newID(), Who: who, PID: 4242, Since: time.Now().UTC().Truncate(time.Second), Command: "dcctl provision inv.toml"}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// notices collects Notice calls from the heartbeat goroutine and the caller.
type notices struct {
	mu    sync.Mutex
	lines []string
}

func (n *notices) add(s string) { n.mu.Lock(); n.lines = append(n.lines, s); n.mu.Unlock() }
func (n *notices) text() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.lines, "\n")
}

func TestSecondHolderRefusedUntilRelease(t *testing.T) {
	ctx := ctxT(t)
	hosts := newHosts(t, "c", "a", "b")
	alice := holder("alice@ops1")
	l, err := Acquire(ctx, hosts, alice, Options{Path: testPath})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		b, err := os.ReadFile(lockFile(h))
		if err != nil {
			t.Fatalf("%s: no lock file: %v", h.Name(), err)
		}
		if !strings.Contains(string(b), "who=alice@ops1\n") || !strings.Contains(string(b), "pid=4242\n") || !strings.Contains(string(b), "command=dcctl provision inv.toml\n") {
			t.Fatalf("%s: lock content %q", h.Name(), b)
		}
	}

	_, err = Acquire(ctx, hosts, holder("bob@ops2"), Options{Path: testPath})
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second Acquire: %v, want *HeldError", err)
	}
	// Fixed order: the collision is on the first host by name.
	if held.Node != "a" || held.Who != "alice@ops1" || held.PID != 4242 || held.Command != "dcctl provision inv.toml" || !held.Since.Equal(alice.Since) {
		t.Fatalf("HeldError names %+v", held.Found)
	}
	for _, want := range []string{"alice@ops1", "pid 4242", "dcctl provision inv.toml", alice.Since.Format(time.RFC3339), "--break-lock"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}

	found, err := Inspect(ctx, hosts, testPath)
	if err != nil || len(found) != 3 {
		t.Fatalf("Inspect: %v %+v", err, found)
	}

	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if err := noLock(lockFile(h)); err != nil {
			t.Fatalf("%s: lock file after Release: %v", h.Name(), err)
		}
	}
	l2, err := Acquire(ctx, hosts, holder("bob@ops2"), Options{Path: testPath})
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	l2.Release(ctx)
}

// TestScriptsStartFewProcesses: taking the lock starts no program besides
// flock (the shell writes the file; mkdir for the lock's directory the
// first time), refreshing one (touch), releasing none (the shell empties
// the file), counted through shims on PATH: these
// scripts run on every host of a run, and a fork and exec less each is
// what a host saves.
func TestScriptsStartFewProcesses(t *testing.T) {
	ctx := ctxT(t)
	dir := t.TempDir()
	shims := filepath.Join(dir, "shims")
	if err := os.Mkdir(shims, 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "calls")
	for _, name := range []string{"flock", "cat", "grep", "mv", "rm", "touch", "date", "stat", "sed", "mkdir", "dirname", "printf"} {
		real, err := exec.LookPath(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shims, name), []byte("#!/bin/sh\necho "+name+" >> "+log+"\nexec "+real+" \"$@\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h := newHosts(t, "a")[0].(*shHost)
	h.path = shims
	calls := func() string {
		b, _ := os.ReadFile(log)
		os.Remove(log)
		return strings.Join(strings.Fields(string(b)), " ")
	}
	l, err := Acquire(ctx, []Host{h}, holder("alice@ops1"), Options{Path: testPath})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := calls(), "mkdir flock"; got != want {
		t.Errorf("take ran %q, want %q", got, want)
	}
	l.beat()
	if got, want := calls(), "flock touch"; got != want {
		t.Errorf("refresh ran %q, want %q", got, want)
	}
	if l.Err() != nil {
		t.Fatalf("lock lost after a refresh: %v", l.Err())
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := calls(), "flock"; got != want {
		t.Errorf("release ran %q, want %q", got, want)
	}
	if err := noLock(lockFile(h)); err != nil {
		t.Fatalf("lock file after Release: %v", err)
	}
	// The emptied file is no lock: Inspect finds none there, and the next
	// run takes it without replacing anyone's. Another run's lock is not
	// ours: a release leaves it, a take refuses.
	if found, err := Inspect(ctx, []Host{h}, testPath); err != nil || len(found) != 0 {
		t.Fatalf("Inspect after Release: %v, %v", found, err)
	}
	var n notices
	other, err := Acquire(ctx, []Host{h}, holder("bob@ops2"), Options{Path: testPath, Notice: n.add})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release(ctx)
	if n.text() != "" {
		t.Errorf("a take after a release said %q", n.text())
	}
	if err := l.releaseAll(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(lockFile(h)); err != nil || !strings.Contains(string(b), "who=bob@ops2\n") {
		t.Fatalf("bob's lock after alice's release: %q, %v", b, err)
	}
	var held *HeldError
	if _, err := Acquire(ctx, []Host{h}, holder("alice@ops1"), Options{Path: testPath}); !errors.As(err, &held) || held.Who != "bob@ops2" {
		t.Fatalf("Acquire over bob's lock: %v", err)
	}
}

// TestAlsoRidesOnTheTake: Options.Also's script runs in the take's session
// (one command per host for both), once the lock there is this run's, and
// its output reaches its handler; where the take is refused it does not run.
func TestAlsoRidesOnTheTake(t *testing.T) {
	ctx := ctxT(t)
	hosts := newHosts(t, "a", "b", "c")
	var mu sync.Mutex
	got := map[string]string{}
	also := func(host string) (string, func([]byte)) {
		return "echo also on " + host + "; cat " + testPath + " | sed -n 1p; exit 3", func(out []byte) {
			mu.Lock()
			defer mu.Unlock()
			got[host] = string(out)
		}
	}
	alice := holder("alice@ops1")
	l, err := Acquire(ctx, hosts, alice, Options{Path: testPath, Also: also})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		// The lock was this run's when the script ran (its first line is
		// the id), and its exit status was not the take's.
		if want := "also on " + h.Name() + "\nid=" + alice.ID + "\n"; got[h.Name()] != want {
			t.Errorf("%s: Also's output %q, want %q", h.Name(), got[h.Name()], want)
		}
		if runs := h.(*shHost).runs; runs != 1 {
			t.Errorf("%s: %d commands for the take and Also, want 1", h.Name(), runs)
		}
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// c is held by another run: a is taken (alone, first), Also runs there;
	// b and c are refused or given back, and c's lock is not read by Also.
	other, err := Acquire(ctx, hosts[2:], holder("carol@ops3"), Options{Path: testPath})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release(ctx)
	got = map[string]string{}
	var held *HeldError
	if _, err := Acquire(ctx, hosts, holder("bob@ops2"), Options{Path: testPath, Also: also}); !errors.As(err, &held) || held.Node != "c" {
		t.Fatalf("Acquire: %v, want c held", err)
	}
	if _, ok := got["c"]; ok || got["a"] == "" {
		t.Errorf("Also's outputs %q: want a's and not c's", got)
	}
	for _, h := range hosts[:2] {
		if err := noLock(lockFile(h)); err != nil {
			t.Errorf("%s still locked after the refused Acquire: %v", h.Name(), err)
		}
	}
}

// TestAlsoTakeFailsUnderBash: a take that fails on the host (writing the
// lock file: here it is /dev/full) fails the Acquire with Also too, under
// bash as under dash (sh on Debian), and Also's script does not run; the
// lock file is left empty, which no run counts as a lock.
func TestAlsoTakeFailsUnderBash(t *testing.T) {
	for _, shell := range []string{"bash", "sh"} {
		t.Run(shell, func(t *testing.T) {
			path, err := exec.LookPath(shell)
			if err != nil {
				t.Skip("no " + shell + " here")
			}
			ctx := ctxT(t)
			h := newHosts(t, "a")[0].(*shHost)
			h.shell = path
			if err := os.MkdirAll(filepath.Dir(lockFile(h)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/dev/full", lockFile(h)); err != nil {
				t.Fatal(err)
			}
			ran := false
			_, err = Acquire(ctx, []Host{h}, holder("alice@ops1"), Options{Path: testPath, Also: func(string) (string, func([]byte)) {
				return "echo facts", func([]byte) { ran = true }
			}})
			// bash says "No space left on device", dash "I/O error"
			var exit *remote.ExitError
			if !errors.As(err, &exit) || exit.Code != 1 || !strings.Contains(err.Error(), "printf") {
				t.Fatalf("Acquire with a failing write: %v, want the take's failure", err)
			}
			if ran {
				t.Error("Also's output was handed over for a take that failed")
			}
		})
	}
}

// A lock file left empty (a take whose write was cut short) is no lock: the
// next run takes it, and Inspect lists nothing there.
func TestEmptyLockFileIsNoLock(t *testing.T) {
	ctx := ctxT(t)
	h := newHosts(t, "a")[0]
	if err := os.MkdirAll(filepath.Dir(lockFile(h)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lockFile(h), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if found, err := Inspect(ctx, []Host{h}, testPath); err != nil || len(found) != 0 {
		t.Fatalf("Inspect of an empty lock file: %v, %v", found, err)
	}
	l, err := Acquire(ctx, []Host{h}, holder("alice@ops1"), Options{Path: testPath})
	if err != nil {
		t.Fatalf("Acquire over an empty lock file: %v", err)
	}
	defer l.Release(ctx)
	if b, err := os.ReadFile(lockFile(h)); err != nil || !strings.Contains(string(b), "who=alice@ops1\n") {
		t.Fatalf("lock file %q, %v", b, err)
	}
}

// TestTakeWhoseAnswerIsLostIsReleased: a take that ran on the host but whose
// answer was cut off (the connection dropped after the lock file was
// written) fails the Acquire, and the lock it left there is released with
// the others, not left to expire.
func TestTakeWhoseAnswerIsLostIsReleased(t *testing.T) {
	ctx := ctxT(t)
	hosts := newHosts(t, "a", "b")
	hosts[1].(*shHost).loseAnswer = true
	if _, err := Acquire(ctx, hosts, holder("alice@ops1"), Options{Path: testPath}); err == nil || !strings.Contains(err.Error(), "connection to b lost") {
		t.Fatalf("Acquire: %v, want b's lost connection", err)
	}
	for _, h := range hosts {
		if err := noLock(lockFile(h)); err != nil {
			t.Errorf("%s still locked after the failed Acquire: %v", h.Name(), err)
		}
	}
}

func TestCollisionReleasesHostsAlreadyTaken(t *testing.T) {
	ctx := ctxT(t)
	hosts := newHosts(t, "a", "b", "c")
	// Someone holds only c (say, a run with --limit c, or hosts a and b
	// were unreachable for it): our run takes a and b, then must give them
	// back.
	other, err := Acquire(ctx, hosts[2:], holder("carol@ops3"), Options{Path: testPath})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release(ctx)
	_, err = Acquire(ctx, hosts, holder("bob@ops2"), Options{Path: testPath})
	var held *HeldError
	if !errors.As(err, &held) || held.Node != "c" || held.Who != "carol@ops3" {
		t.Fatalf("Acquire: %v", err)
	}
	for _, h := range hosts[:2] {
		if err := noLock(lockFile(h)); err != nil {
			t.Errorf("%s still locked after the refused Acquire: %v", h.Name(), err)
		}
	}
}

func TestExpiredLockIsTakenOver(t *testing.T) {
	ctx := ctxT(t)
	hosts := newHosts(t, "a", "b")
	// A holder that died: its lock stays, and its heartbeat stops.
	dead, err := Acquire(ctx, hosts, holder("dave@gone"), Options{Path: testPath, Heartbeat: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	_ = dead // never released: the process "died"
	old := time.Now().Add(-2 * time.Minute)
	for _, h := range hosts {
		if err := os.Chtimes(lockFile(h), old, old); err != nil {
			t.Fatal(err)
		}
	}
	// Within the bound it still refuses...
	if _, err := Acquire(ctx, hosts, holder("bob@ops2"), Options{Path: testPath, Expiry: 5 * time.Minute}); err == nil {
		t.Fatal("a lock with a 2 minute old heartbeat was taken with a 5 minute bound")
	}
	// ...past it, it is taken over, and the operator is told whose it was.
	var n notices
	l, err := Acquire(ctx, hosts, holder("bob@ops2"), Options{Path: testPath, Expiry: time.Minute, Notice: n.add})
	if err != nil {
		t.Fatalf("expired lock not taken over: %v", err)
	}
	defer l.Release(ctx)
	if got := n.text(); !strings.Contains(got, "dave@gone") || strings.Count(got, "replaced") != 2 {
		t.Fatalf("notices %q", got)
	}
	b, _ := os.ReadFile(lockFile(hosts[0]))
	if !strings.Contains(string(b), "who=bob@ops2") {
		t.Fatalf("lock after takeover: %q", b)
	}
}

// TestBreakLockAndTheLoserNotices: after --break-lock, the first holder's
// next heartbeat finds the lock gone, says so, and counts its lock as lost.
// The heartbeat is driven by hand (beat), so no timing is assumed.
func TestBreakLockAndTheLoserNotices(t *testing.T) {
	ctx := ctxT(t)
	hosts := newHosts(t, "a", "b")
	var lost notices
	alice, err := Acquire(ctx, hosts, holder("alice@ops1"), Options{Path: testPath, Heartbeat: time.Hour, Notice: lost.add})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := alice.Context(ctx)
	defer cancel()
	alice.beat()
	if err := alice.Err(); err != nil || runCtx.Err() != nil {
		t.Fatalf("lock lost before anyone broke it: %v (notices %q)", err, lost.text())
	}
	var n notices
	bob, err := Acquire(ctx, hosts, holder("bob@ops2"), Options{Path: testPath, Break: true, Notice: n.add})
	if err != nil {
		t.Fatalf("--break-lock: %v", err)
	}
	if !strings.Contains(n.text(), "alice@ops1") {
		t.Fatalf("breaking did not say whose lock it broke: %q", n.text())
	}
	alice.beat()
	if !strings.Contains(lost.text(), "bob@ops2") {
		t.Fatalf("alice's heartbeat did not notice the broken lock: %q", lost.text())
	}
	var le *LostError
	if !errors.As(alice.Err(), &le) || !strings.Contains(le.Error(), "bob@ops2") {
		t.Fatalf("alice.Err() = %v, want a *LostError naming bob", alice.Err())
	}
	select {
	case <-alice.Lost():
	default:
		t.Fatal("Lost() not closed")
	}
	<-runCtx.Done() // cancelled by a goroutine: wait for it (bounded by ctxT)
	if !errors.As(context.Cause(runCtx), &le) || !strings.Contains(context.Cause(runCtx).Error(), "lock lost on") {
		t.Fatalf("run context's cause %v, want the *LostError", context.Cause(runCtx))
	}
	// alice's release must not remove bob's lock.
	if err := alice.Release(ctx); err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		b, err := os.ReadFile(lockFile(h))
		if err != nil || !strings.Contains(string(b), "who=bob@ops2") {
			t.Fatalf("%s: bob's lock after alice's release: %q %v", h.Name(), b, err)
		}
	}
	bob.Release(ctx)
}

// TestSlowRefreshIsNotCutAtTheInterval: a refresh that takes longer than the
// heartbeat interval (a loaded machine, a slow link) still refreshes: its
// bound is its own, not the interval.
func TestSlowRefreshIsNotCutAtTheInterval(t *testing.T) {
	ctx := ctxT(t)
	hosts := newHosts(t, "a")
	var n notices
	l, err := Acquire(ctx, hosts, holder("alice@ops1"), Options{Path: testPath, Heartbeat: 10 * time.Millisecond, Notice: n.add})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(lockFile(hosts[0]), old, old); err != nil {
		t.Fatal(err)
	}
	hosts[0].(*shHost).slow = "sleep 0.5; " // 50 intervals per refresh
	l.beat()
	st, err := os.Stat(lockFile(hosts[0]))
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(st.ModTime()) > 30*time.Minute || strings.Contains(n.text(), "could not refresh") {
		t.Fatalf("a slow refresh did not refresh (mtime %s): %q", st.ModTime(), n.text())
	}
	if l.Err() != nil {
		t.Fatalf("lock lost: %v", l.Err())
	}
}

// TestLostAfterRefreshesFailForHalfTheExpiry: refreshes that keep failing on a
// host lose the lock once they have failed for over half the expiry (the
// operator's clock is moved by hand), not before.
func TestLostAfterRefreshesFailForHalfTheExpiry(t *testing.T) {
	ctx := ctxT(t)
	hosts := newHosts(t, "a", "b")
	var n notices
	l, err := Acquire(ctx, hosts, holder("alice@ops1"), Options{Path: testPath, Heartbeat: time.Hour, Expiry: time.Minute, Notice: n.add})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	runCtx, cancel := l.Context(ctx)
	defer cancel()
	t0 := time.Now()
	clock := t0
	l.mu.Lock()
	l.now = func() time.Time { return clock }
	l.mu.Unlock()
	hosts[1].(*shHost).broken = true // no Redial: the host stays out of reach

	clock = t0.Add(29 * time.Second)
	l.beat()
	if !strings.Contains(n.text(), "b does not answer over SSH") {
		t.Fatalf("failed refresh not reported: %q", n.text())
	}
	if err := l.Err(); err != nil {
		t.Fatalf("lost after 29s of a 1m expiry: %v", err)
	}
	clock = t0.Add(31 * time.Second)
	l.beat()
	var le *LostError
	if !errors.As(l.Err(), &le) || le.Node != "b" || !strings.Contains(le.Error(), "could not be refreshed for 31s") {
		t.Fatalf("Err() = %v, want lost on b after 31s", l.Err())
	}
	<-runCtx.Done()
	if !errors.As(context.Cause(runCtx), &le) {
		t.Fatalf("cause %v", context.Cause(runCtx))
	}
}

// TestHostDownLeavesTheLockWhileTheOthersAreEnough: with Enough, a host
// whose refreshes fail for over half the expiry (powered off mid-run) drops
// out of the lock and is refreshed no more while the hosts still holding it
// are enough; the lock is lost only once they are not.
func TestHostDownLeavesTheLockWhileTheOthersAreEnough(t *testing.T) {
	ctx := ctxT(t)
	hosts := newHosts(t, "a", "b", "c")
	var n notices
	majority := func(fresh []string) error {
		if len(fresh)*2 > len(hosts) {
			return nil
		}
		return fmt.Errorf("only %s of 3 hold it", strings.Join(fresh, ", "))
	}
	l, err := Acquire(ctx, hosts, holder("alice@ops1"), Options{Path: testPath, Heartbeat: time.Hour, Expiry: time.Minute, Notice: n.add, Enough: majority})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	t0 := time.Now()
	clock := t0
	l.mu.Lock()
	l.now = func() time.Time { return clock }
	l.mu.Unlock()
	hosts[1].(*shHost).broken = true

	clock = t0.Add(29 * time.Second)
	l.beat()
	clock = t0.Add(31 * time.Second)
	l.beat()
	if err := l.Err(); err != nil {
		t.Fatalf("lost with a and c still holding it: %v", err)
	}
	if !strings.Contains(n.text(), "b: left out of this run's deployment lock") || !strings.Contains(n.text(), "held on a, c") {
		t.Fatalf("notices %q, want b left out", n.text())
	}
	before := hosts[1].(*shHost).tries
	clock = t0.Add(40 * time.Second)
	l.beat()
	if got := hosts[1].(*shHost).tries; got != before {
		t.Errorf("b refreshed again after it was left out (%d tries, %d before)", got, before)
	}

	hosts[2].(*shHost).broken = true
	clock = t0.Add(50 * time.Second)
	l.beat()
	clock = t0.Add(72 * time.Second)
	l.beat()
	var le *LostError
	if !errors.As(l.Err(), &le) || le.Node != "c" || !strings.Contains(le.Error(), "not enough: only a of 3 hold it") {
		t.Fatalf("Err() = %v, want lost on c, a alone not enough", l.Err())
	}
}

func TestHeartbeatKeepsLockAlive(t *testing.T) {
	ctx := ctxT(t)
	hosts := newHosts(t, "a")
	l, err := Acquire(ctx, hosts, holder("alice@ops1"), Options{Path: testPath, Heartbeat: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(lockFile(hosts[0]), old, old); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(25 * time.Second) // generous: a loaded machine spawns slowly
	for {
		st, err := os.Stat(lockFile(hosts[0]))
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(st.ModTime()) < time.Minute {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("heartbeat did not refresh the lock's mtime")
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

func TestReleaseRedialsABrokenConnection(t *testing.T) {
	ctx := ctxT(t)
	hosts := newHosts(t, "a", "b")
	redialed := map[string]int{}
	var mu sync.Mutex
	o := Options{Path: testPath, Heartbeat: time.Hour, Redial: func(ctx context.Context, name string) (Host, error) {
		mu.Lock()
		defer mu.Unlock()
		redialed[name]++
		for _, h := range hosts {
			if h.Name() == name {
				return &shHost{name: name, root: h.(*shHost).root}, nil
			}
		}
		return nil, fmt.Errorf("no host %s", name)
	}}
	l, err := Acquire(ctx, hosts, holder("alice@ops1"), o)
	if err != nil {
		t.Fatal(err)
	}
	hosts[1].(*shHost).broken = true // the SSH connection to b dropped mid-run
	if err := l.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if redialed["b"] != 1 || redialed["a"] != 0 {
		t.Fatalf("redials %v, want b once", redialed)
	}
	for _, h := range hosts {
		if err := noLock(lockFile(h)); err != nil {
			t.Errorf("%s still locked: %v", h.Name(), err)
		}
	}
}

// TestRace: many operators start at once; at every moment at most one
// holds the lock, and every one of them either gets it or is told who has it.
func TestRace(t *testing.T) {
	ctx := ctxT(t)
	hosts := newHosts(t, "a", "b", "c")
	const runs = 8
	var mu sync.Mutex
	holding := 0
	var wg sync.WaitGroup
	errs := make(chan error, runs)
	for i := range runs {
		wg.Go(func() {
			l, err := Acquire(ctx, hosts, holder(fmt.Sprintf("op%d@m", i)), Options{Path: testPath})
			var held *HeldError
			switch {
			case errors.As(err, &held):
				return
			case err != nil:
				errs <- err
				return
			}
			mu.Lock()
			holding++
			n := holding
			mu.Unlock()
			if n > 1 {
				errs <- fmt.Errorf("op%d holds the lock with %d others", i, n-1)
			}
			mu.Lock()
			holding--
			mu.Unlock()
			if err := l.Release(ctx); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// FuzzParseResult: the holder a host reports (any names, command lines,
// pids, times and ages) comes back as it was, and the refusal names it and
// the host; in any other output an age is never negative.
func FuzzParseResult(f *testing.F) {
	f.Add([]byte("age=-5\nprev.pid=x\nprev.since=yesterday\n=\n\x00"), "held", 12, "ab", "a@b", 1, int64(1790000000), "dcctl provision x.toml")
	f.Add([]byte("state=acquired\n"), "acquired", 0, "id=x", "ops", 0, int64(0), "dcctl runbook rolling-restart --cluster=A")
	f.Fuzz(func(t *testing.T, junk []byte, state string, age int, id, who string, pid int, since int64, command string) {
		if r := parseResult("n", junk); r.Prev != nil && r.Prev.Age < 0 {
			t.Fatalf("negative age %v from %q", r.Prev.Age, junk)
		}
		for _, v := range []string{state, id, who, command} {
			if strings.ContainsAny(v, "\r\n") {
				return
			}
		}
		if age < 0 || age > 1<<30 || since < 0 || since > 1<<34 {
			return
		}
		at := time.Unix(since, 0).UTC()
		out := fmt.Sprintf("state=%s\nage=%d\nprev.id=%s\nprev.who=%s\nprev.pid=%d\nprev.since=%s\nprev.command=%s\n",
			state, age, id, who, pid, at.Format(time.RFC3339), command)
		r := parseResult("node-7", []byte(out))
		want := Found{Holder: Holder{ID: id, Who: who, PID: pid, Since: at, Command: command}, Node: "node-7", Age: time.Duration(age) * time.Second}
		if r.State != state || r.Prev == nil || !reflect.DeepEqual(*r.Prev, want) {
			t.Fatalf("parse(%q) = %q %+v, want %+v", out, r.State, r.Prev, want)
		}
		msg := (&HeldError{Found: *r.Prev, Path: "/run/x.lock"}).Error()
		for _, part := range []string{who, "`" + command + "`", "on node-7", fmt.Sprintf("pid %d", pid)} {
			if !strings.Contains(msg, part) {
				t.Fatalf("refusal %q does not say %q", msg, part)
			}
		}
	})
}

// TestHungRefreshHoldsBackNoOtherHost: each host's heartbeat is its own. A
// refresh that hangs on one host (a session the host never answers, up to
// its RefreshTimeout) keeps no other host's lock from being refreshed,
// round after round: a heartbeat that waited for every host's refresh
// before the next round would leave them all to expire behind one host.
func TestHungRefreshHoldsBackNoOtherHost(t *testing.T) {
	ctx := ctxT(t)
	hosts := newHosts(t, "a", "b")
	a, b := hosts[0].(*shHost), hosts[1].(*shHost)
	// b's commands hang once the file hang exists there, until go does.
	b.slow = `[ ! -e hang ] || { : > hung; while [ ! -e go ]; do sleep 0.05; done; }; `
	l, err := Acquire(ctx, hosts, holder("alice@ops1"), Options{Path: testPath, Heartbeat: 50 * time.Millisecond, RefreshTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	unhang := func() { os.WriteFile(filepath.Join(b.root, "go"), nil, 0o644) }
	defer unhang()
	if err := os.WriteFile(filepath.Join(b.root, "hang"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	poll := func(what string, done func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second) // well under the test's 30 s
		for !done() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s", what)
			}
			time.Sleep(10 * time.Millisecond) // poll interval
		}
	}
	poll("b's refresh hangs", func() bool { _, err := os.Stat(filepath.Join(b.root, "hung")); return err == nil })
	old := time.Now().Add(-time.Hour)
	for round := range 3 {
		if err := os.Chtimes(lockFile(a), old, old); err != nil {
			t.Fatal(err)
		}
		poll(fmt.Sprintf("a's lock refreshed while b's refresh hangs (round %d)", round), func() bool {
			st, err := os.Stat(lockFile(a))
			return err == nil && time.Since(st.ModTime()) < time.Minute
		})
	}
	if _, err := os.Stat(filepath.Join(b.root, "go")); err == nil {
		t.Fatal("b's refresh was let go before the end")
	}
	if l.Err() != nil {
		t.Fatalf("lock lost: %v", l.Err())
	}
	unhang()
}
