package lock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/sshtest"
	"github.com/dcctl/dcctl/remote"
)

// sshHost is a host reached over SSH (the in-process sshd): its commands
// run in a directory of their own, which stands for that host's file system,
// since every test server runs its commands on this machine.
type sshHost struct {
	*remote.Client
	root string
	srv  *sshtest.Server
}

func (h sshHost) Run(ctx context.Context, cmd string) ([]byte, []byte, error) {
	return h.RunInput(ctx, cmd, nil)
}

func (h sshHost) RunInput(ctx context.Context, cmd string, stdin io.Reader) ([]byte, []byte, error) {
	return h.Client.RunInput(ctx, "cd "+shellQuote(h.root)+" && "+cmd, stdin)
}

func (h sshHost) Start(ctx context.Context, cmd string) (*remote.Stream, error) {
	return h.Client.Start(ctx, "cd "+shellQuote(h.root)+" && "+cmd)
}

// sshHosts starts n SSH servers and returns a connected host for each.
func sshHosts(t *testing.T, n int) []Host {
	t.Helper()
	dir := t.TempDir()
	keyFile, signer := sshtest.ClientKey(t, dir)
	knownHosts := filepath.Join(dir, "known_hosts")
	store := remote.NewHostKeyStore(knownHosts)
	var hosts []Host
	for i := 0; i < n; i++ {
		srv := sshtest.NewServer(t, signer.PublicKey())
		sshtest.WriteKnownHost(t, knownHosts, srv.Addr, srv.HostKeys[0].PublicKey())
		root := filepath.Join(dir, fmt.Sprintf("h%02d", i))
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		c, err := remote.Dial(t.Context(), remote.Config{Name: fmt.Sprintf("h%02d", i), Host: "127.0.0.1", Port: srv.Port(),
			User: "dcctl", KeyFile: keyFile, KnownHosts: knownHosts, HostKeys: store, DialTimeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("dial %s: %v", srv.Addr, err)
		}
		t.Cleanup(func() { c.Close() })
		hosts = append(hosts, sshHost{Client: c, root: root, srv: srv})
	}
	return hosts
}

// lockedBy lists the hosts whose lock file is there and not empty.
func lockedBy(t *testing.T, hosts []Host) []string {
	t.Helper()
	var names []string
	for _, h := range hosts {
		if st, err := os.Stat(filepath.Join(h.(sshHost).root, testPath)); err == nil && st.Size() > 0 {
			names = append(names, h.Name())
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return names
}

// Two runs that start together on many hosts, in opposite orders of the
// slice they are given: never both get the lock, the loser is told who holds
// it and leaves nothing behind, and the winner holds every host.
func TestManyHostsTwoRunsNeverBothHold(t *testing.T) {
	ctx := ctxT(t)
	hosts := sshHosts(t, 12)
	reversed := make([]Host, len(hosts))
	for i, h := range hosts {
		reversed[len(hosts)-1-i] = h
	}
	for round := 0; round < 20; round++ {
		var wg sync.WaitGroup
		locks := make([]*Lock, 2)
		errs := make([]error, 2)
		for i, hs := range [][]Host{hosts, reversed} {
			wg.Go(func() {
				locks[i], errs[i] = Acquire(ctx, hs, holder(fmt.Sprintf("op%d@m", i)), Options{Path: testPath, Concurrency: 4})
			})
		}
		wg.Wait()
		won := -1
		for i := range locks {
			var held *HeldError
			switch {
			case errs[i] == nil && won >= 0:
				t.Fatalf("round %d: both runs hold the lock", round)
			case errs[i] == nil:
				won = i
			case errors.As(errs[i], &held):
				if held.Who != fmt.Sprintf("op%d@m", 1-i) {
					t.Errorf("round %d: op%d refused by %q, want the other run", round, i, held.Who)
				}
			default:
				t.Fatalf("round %d: op%d: %v", round, i, errs[i])
			}
		}
		if won < 0 {
			// Both backed off: allowed (each saw the other), never both in.
			if got := lockedBy(t, hosts); len(got) != 0 {
				t.Fatalf("round %d: both refused, but locks are left on %v", round, got)
			}
			continue
		}
		if got := lockedBy(t, hosts); len(got) != len(hosts) {
			t.Fatalf("round %d: op%d holds the lock on %v only", round, won, got)
		}
		if err := locks[won].Release(ctx); err != nil {
			t.Fatal(err)
		}
		if got := lockedBy(t, hosts); len(got) != 0 {
			t.Fatalf("round %d: locks left on %v after release", round, got)
		}
	}
}

// A run refused by a host in the middle of the order (held by a run with a
// smaller host set) releases every host it took, in parallel or not.
func TestManyHostsRefusalReleasesAllTaken(t *testing.T) {
	ctx := ctxT(t)
	hosts := sshHosts(t, 12)
	other, err := Acquire(ctx, hosts[7:8], holder("carol@ops3"), Options{Path: testPath})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(ctx, hosts, holder("bob@ops2"), Options{Path: testPath, Concurrency: 3})
	var held *HeldError
	if !errors.As(err, &held) || held.Node != hosts[7].Name() || held.Who != "carol@ops3" {
		t.Fatalf("Acquire: %v, want refused by carol@ops3 on %s", err, hosts[7].Name())
	}
	if got := lockedBy(t, hosts); len(got) != 1 || got[0] != hosts[7].Name() {
		t.Fatalf("after the refusal locks are on %v, want only carol's on %s", got, hosts[7].Name())
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// wave records the takes under way at once across hosts; every take but the
// first host's waits (up to a deadline) until another is under way too, so
// a run that took the hosts one at a time fails here.
type wave struct {
	mu       sync.Mutex
	cond     *sync.Cond
	inFlight int
	most     int
	first    string
	firstRan bool // the first host's take finished
	bad      []string
}

type waveHost struct {
	Host
	w *wave
}

func (h waveHost) Run(ctx context.Context, cmd string) ([]byte, []byte, error) {
	w := h.w
	w.mu.Lock()
	w.inFlight++
	w.most = max(w.most, w.inFlight)
	if h.Name() == w.first {
		if w.inFlight != 1 {
			w.bad = append(w.bad, "the first host was taken alongside others")
		}
	} else {
		if !w.firstRan {
			w.bad = append(w.bad, h.Name()+" was taken before the first host")
		}
		deadline := time.AfterFunc(10*time.Second, func() { w.mu.Lock(); w.cond.Broadcast(); w.mu.Unlock() })
		start := time.Now()
		for w.most < 2 && time.Since(start) < 10*time.Second {
			w.cond.Wait()
		}
		deadline.Stop()
		w.cond.Broadcast()
	}
	w.mu.Unlock()
	out, stderr, err := h.Host.Run(ctx, cmd)
	w.mu.Lock()
	w.inFlight--
	if h.Name() == w.first {
		w.firstRan = true
	}
	w.mu.Unlock()
	return out, stderr, err
}

// The first host alone, then the others in parallel, never more at once
// than Concurrency.
func TestAcquireTakesTheRestInParallel(t *testing.T) {
	ctx := ctxT(t)
	w := &wave{first: "a"}
	w.cond = sync.NewCond(&w.mu)
	var hosts []Host
	for _, h := range newHosts(t, "e", "d", "c", "b", "a", "f", "g", "h") {
		hosts = append(hosts, waveHost{Host: h, w: w})
	}
	l, err := Acquire(ctx, hosts, holder("bob@ops2"), Options{Path: testPath, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range w.bad {
		t.Error(b)
	}
	if w.most < 2 || w.most > 3 {
		t.Errorf("at most %d hosts were taken at once, want 2 or 3 (Concurrency 3)", w.most)
	}
}

// Over SSH the take's command stays and releases the lock when told to: a
// run costs each host one command (with Also's script in it), not two. The
// waiting shell does not hold the host-side mutex: another run is refused
// at once by the lock, not after the mutex's 20 s. A take whose command
// ended (a broken connection) is released in a session of its own.
func TestReleaseRidesOnTheTake(t *testing.T) {
	ctx := ctxT(t)
	hosts := sshHosts(t, 3)
	also := func(host string) (string, func([]byte)) { return "echo facts of " + host, func([]byte) {} }
	execs := func() []int64 {
		var n []int64
		for _, h := range hosts {
			n = append(n, h.(sshHost).srv.Execs())
		}
		return n
	}
	l, err := Acquire(ctx, hosts, holder("alice@ops1"), Options{Path: testPath, Also: also})
	if err != nil {
		t.Fatal(err)
	}
	if got := execs(); !reflect.DeepEqual(got, []int64{1, 1, 1}) {
		t.Errorf("commands per host for the take: %v, want 1 each", got)
	}
	// Were the mutex held by alice's waiting take, bob's take would give up
	// on it (flock -w 20) with "another dcctl holds ... mutex", or hit ctx,
	// and either is not a HeldError: refusal by the lock itself proves that
	// bob got the mutex.
	var held *HeldError
	if _, err := Acquire(ctx, hosts, holder("bob@ops2"), Options{Path: testPath}); !errors.As(err, &held) || held.Who != "alice@ops1" {
		t.Fatalf("bob's Acquire: %v, want refused by alice's lock (not by the host-side mutex)", err)
	}
	before := execs()
	l.streams[2].Close() // host 3's connection broke, say
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lockedBy(t, hosts); len(got) != 0 {
		t.Fatalf("locks left on %v after release", got)
	}
	after := execs()
	for i := range hosts {
		want := before[i]
		if i == 2 {
			want++ // its own release session
		}
		if after[i] != want {
			t.Errorf("%s: %d commands for the release, want %d", hosts[i].Name(), after[i]-before[i], want-before[i])
		}
	}
}

// A held take answers before its client sends anything: the holder's lines
// are in the script, so the take runs from its start to its answer without
// a round trip in between, and its stdin carries only the release.
func TestTakeAnswersWithoutInput(t *testing.T) {
	ctx := ctxT(t)
	h := sshHosts(t, 1)[0].(sshHost)
	me := holder("alice@ops1")
	me.Command = "dcctl provision 'o'brien's.toml'"
	l := &Lock{me: me, o: Options{Path: testPath}.withDefaults()}
	s, err := h.Start(ctx, l.takeScript("echo facts", true))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := s.Until(wait, heldMark)
	if err != nil {
		t.Fatalf("the take did not answer with nothing sent to it: %v (output %q)", err, out)
	}
	if res := parseResult(h.Name(), out); res.State != "acquired" {
		t.Fatalf("take: %q, want state=acquired", out)
	}
	got, err := os.ReadFile(filepath.Join(h.root, testPath))
	if err != nil || string(got) != string(l.me.encode()) {
		t.Fatalf("lock file %q (%v), want the holder's lines %q", got, err, l.me.encode())
	}
	if err := s.Send([]byte("release\n")); err != nil {
		t.Fatal(err)
	}
	if out, _, err := s.Finish(ctx); err != nil || parseResult("", out).State != "released" {
		t.Fatalf("release: %q, %v", out, err)
	}
	if err := noLock(filepath.Join(h.root, testPath)); err != nil {
		t.Fatalf("lock file still there after the release: %v", err)
	}
}
