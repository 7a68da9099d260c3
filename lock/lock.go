// Package lock keeps two operators from changing one deployment at once.
//
// The lock lives on the hosts, not on the operator's machine: a file
// (DefaultPath) on every host a run reaches, so that anyone operating the
// deployment, from any machine and with any copy of the inventory, meets it.
// It is taken on the first host in a fixed order (node names sorted) alone,
// then on the others in parallel, so two runs racing for it collide on that
// first host and one of them backs off at once; a run refused anywhere
// releases what it took, so no two runs can each hold part of it and wait
// for the other.
//
// The file holds who took it (user@host), the pid, since when and the
// command. Its modification time is the heartbeat: the holder touches it
// while it runs, and a lock whose heartbeat is older than the expiry bound
// (measured with the host's own clock, so clock skew between operators'
// machines does not matter) belongs to a holder that died and is taken over.
// Break removes whatever lock is there. An empty file, as a release leaves
// it, is no lock.
//
// A run can lose its lock: someone breaks it (the heartbeat then finds
// another holder, or none), or its refreshes fail for longer than half the
// expiry (soon another run may take it over). Lost is closed then, and the
// context from Context is cancelled with a *LostError as its cause, so that
// the run stops before its next step and says why.
//
// Every read-modify-write of the file runs under flock(1) on a mutex file
// beside it, on the host: taking over an expired lock, refreshing a
// heartbeat and releasing are atomic with respect to another operator doing
// the same.
//
// Over SSH (a Host that can hold a command: remote.Client) the take's shell
// stays once it took the lock, outside the mutex, waiting on its stdin, and
// Release tells it to release: a run costs each host one command, not two.
// If that shell is gone (a broken connection), Release runs the release in
// a session of its own; if dcctl is gone, the shell's stdin ends and it
// leaves the lock to expire, as before.
//
// Use:
//
//	l, err := lock.Acquire(ctx, hosts, lock.Me("dcctl provision inventory.toml"), lock.Options{})
//	var held *lock.HeldError // errors.As(err, &held): someone else holds it
//	defer l.Release(context.WithoutCancel(ctx))
//	ctx, cancel := l.Context(ctx) // cancelled, with a *LostError cause, if the lock is lost
package lock

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcctl/dcctl/remote"
)

// DefaultPath is the lock file on each host. /run is a tmpfs: a host that
// reboots forgets its lock, which is right, since a reboot ends whatever run
// held it on that host.
const DefaultPath = "/run/dcctl/deployment.lock"

// DefaultExpiry is how old a heartbeat may get before the lock counts as
// abandoned. It must be well above the heartbeat interval plus the time one
// refresh can take on a slow link.
const DefaultExpiry = 90 * time.Second

// Host is a machine the lock is taken on: remote.Client satisfies it.
type Host interface {
	Name() string
	Run(ctx context.Context, cmd string) (stdout, stderr []byte, err error)
}

// Holder says who holds a lock.
type Holder struct {
	ID      string    `json:"id"`      // random, tells this run's lock from another's
	Who     string    `json:"who"`     // user@host of the operator's machine
	PID     int       `json:"pid"`     // of the dcctl process
	Since   time.Time `json:"since"`   // when it was taken
	Command string    `json:"command"` // the command line (dcctl never takes secrets as arguments)
}

// Me describes this process as a holder running command.
func Me(command string) Holder {
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return Holder{ID: newID(), Who: who + "@" + host, PID: os.Getpid(), Since: time.Now().UTC().Truncate(time.Second), Command: command}
}

func newID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on Linux; a time-based id still tells
		// runs apart.
		return strconv.FormatInt(time.Now().UnixNano(), 16)
	}
	return hex.EncodeToString(b[:])
}

func (h Holder) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "id=%s\nwho=%s\npid=%d\nsince=%s\ncommand=%s\n",
		oneLine(h.ID), oneLine(h.Who), h.PID, h.Since.UTC().Format(time.RFC3339), oneLine(h.Command))
	return b.Bytes()
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// Found is a lock seen on a host.
type Found struct {
	Holder
	Node string        `json:"node"`
	Age  time.Duration `json:"age"` // since its last heartbeat, by the host's clock
	// Ahead is how far the last heartbeat lies in the future by the host's
	// clock (Age is then 0): the clock was set back since (an NTP step).
	Ahead time.Duration `json:"ahead,omitempty"`
}

func (f Found) String() string {
	beat := fmt.Sprintf("last heartbeat %s ago", f.Age.Round(time.Second))
	if f.Ahead > 0 {
		beat = fmt.Sprintf("last heartbeat %s in the future by %s's clock, which was set back since", f.Ahead.Round(time.Second), f.Node)
	}
	return fmt.Sprintf("%s (pid %d, `%s`) since %s, %s",
		f.Who, f.PID, f.Command, f.Since.Format(time.RFC3339), beat)
}

// HeldError refuses a run because someone else holds the lock.
type HeldError struct {
	Found
	Path   string
	Expiry time.Duration
}

func (e *HeldError) Error() string {
	expires := fmt.Sprintf("the lock expires once its heartbeat is older than %s", e.Expiry)
	if e.Ahead > 0 {
		// A live holder's next heartbeat brings it back to the host's
		// present; a dead one's stays ahead until the clock catches up.
		expires = fmt.Sprintf("the lock expires %s after the host's clock reaches that heartbeat (in %s)", e.Expiry, (e.Ahead + e.Expiry).Round(time.Second))
	}
	return fmt.Sprintf("the deployment is locked by %s (lock %s on %s). Wait for that run to finish; "+
		"if its process is gone, %s, "+
		"or remove it now with --break-lock (only when you are sure it is not running)",
		e.Found, e.Path, e.Node, expires)
}

// Options tune Acquire.
type Options struct {
	Path      string        // default DefaultPath
	Expiry    time.Duration // default DefaultExpiry
	Heartbeat time.Duration // default Expiry/6
	// RefreshTimeout bounds one refresh of the heartbeat on one host;
	// default max(Expiry/3, 10s). It is not the interval: a refresh is an SSH
	// session and a short script, which on a loaded machine or a slow link
	// takes seconds however often it runs. Expiry/3 leaves a hung refresh
	// time to be cut off and retried before refreshes have failed for half
	// the expiry (when the lock counts as lost); the floor keeps short test
	// expiries from cutting off an ordinary slow refresh.
	RefreshTimeout time.Duration
	// Concurrency bounds the hosts Acquire takes at once after the first;
	// default 32.
	Concurrency int
	// Break replaces a lock whoever holds it (--break-lock).
	Break bool
	// Notice receives what an operator should know: a lock broken or taken
	// over from a dead holder, a heartbeat that failed. Nil: discarded.
	Notice func(string)
	// Also, if not nil, gives a script to run on a host in the same session
	// as its take, right after the lock there became this run's (not where
	// the take is refused), and handle for its output: a caller that reads
	// every host as soon as it holds the lock (provision's facts) saves a
	// session and a round trip per host. "" runs nothing. The script runs
	// outside the host-side mutex; its exit status is not the take's.
	Also func(host string) (script string, handle func(stdout []byte))
	// Redial returns a fresh connection to a host whose connection broke
	// (a heartbeat or the release then goes through it). Nil: no retry.
	Redial func(ctx context.Context, name string) (Host, error)
	// Enough, if not nil, says whether the hosts (by name) whose heartbeat
	// is still fresh are enough of a lock for the run (a runbook: a
	// majority of each cluster it acts on), as at the take. A host whose
	// refreshes have failed for over half the expiry then only drops out
	// of the lock, with a notice, while the others are enough: a second
	// run still finds this run's lock on them and is refused. Without it,
	// one host going down (a power cut during a runbook, the very case
	// replace-peer and restore-node are for) stopped the whole run. Nil:
	// any such host loses the lock.
	Enough func(fresh []string) error
}

func (o Options) withDefaults() Options {
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if o.Expiry <= 0 {
		o.Expiry = DefaultExpiry
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = o.Expiry / 6
	}
	if o.RefreshTimeout <= 0 {
		o.RefreshTimeout = max(o.Expiry/3, 10*time.Second)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.Notice == nil {
		o.Notice = func(string) {}
	}
	return o
}

// Lock is a held lock; Release it when the run ends.
type Lock struct {
	me     Holder
	o      Options
	mu     sync.Mutex
	held   []Host      // in acquisition order
	lastOK []time.Time // per held host: when its lock was last known to be ours
	// dropped, per held host: its refreshes failed for over half the
	// expiry while the others were Enough; it is refreshed no more (back
	// from a reboot it has no lock, which a refresh would take for a
	// --break-lock)
	dropped []bool
	// streams, per held host, the take's command waiting for the release
	// (nil where the host cannot hold one, or it ended)
	streams []*remote.Stream
	lost    error // *LostError once lost
	// silent, by held host: the host's not answering was said (once per
	// outage: a heartbeat every 20 s said it again and again)
	silent map[int]bool

	now      func() time.Time // the operator's clock, for how long refreshes failed
	lostCh   chan struct{}
	bg       context.Context // ends when Release stops the heartbeat
	stopBeat context.CancelFunc
	done     chan struct{}
}

// LostError says why a run no longer holds its lock.
type LostError struct {
	Node   string
	Reason string
}

func (e *LostError) Error() string {
	return fmt.Sprintf("lock lost on %s: %s; stopped so as not to act alongside another run", e.Node, e.Reason)
}

// Acquire takes the lock on every host. If one host has a live lock of
// someone else, the hosts already taken are released and a *HeldError says
// who holds it. A host that fails to answer is an error too (and releases
// the rest): a lock with a hole in it would let a second operator in.
//
// The first host in the order of names is taken alone, the others after it
// in parallel (at most Options.Concurrency at once): every run starts on the
// same host, so of two runs that start together one finds the other's lock
// there after a single round trip and backs off, and taking a thousand hosts
// costs two waves rather than a thousand round trips in a row. Two runs
// can never both hold the lock, whatever the order: each host's file admits
// one holder, and their host sets overlap.
func Acquire(ctx context.Context, hosts []Host, me Holder, o Options) (*Lock, error) {
	o = o.withDefaults()
	if me.ID == "" {
		me.ID = newID()
	}
	sorted := append([]Host(nil), hosts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name() < sorted[j].Name() })
	l := &Lock{me: me, o: o, now: time.Now, lostCh: make(chan struct{}), done: make(chan struct{})}
	l.bg, l.stopBeat = context.WithCancel(context.Background())
	if len(sorted) > 0 {
		prevs, err := l.takeAll(ctx, sorted[:1])
		if err == nil {
			var rest []*Found
			rest, err = l.takeAll(ctx, sorted[1:])
			prevs = append(prevs, rest...)
		}
		if err != nil {
			l.stopBeat()
			l.releaseAll(context.WithoutCancel(ctx))
			return nil, err
		}
		for i, prev := range prevs {
			if prev != nil {
				o.Notice(fmt.Sprintf("%s: replaced the lock of %s", sorted[i].Name(), prev))
			}
		}
	}
	go l.heartbeat()
	return l, nil
}

// takeAll takes the lock on hosts, at most Options.Concurrency at once, and
// adds those it took to l.held (in the order of hosts, so that a refusal
// releases exactly them). After the first failure it starts no more takes;
// those under way finish, so that none leaves a lock behind unrecorded. The
// error is the refusal of the first host in order that refused, else the
// first other failure.
func (l *Lock) takeAll(ctx context.Context, hosts []Host) ([]*Found, error) {
	prevs := make([]*Found, len(hosts))
	errs := make([]error, len(hosts))
	taken := make([]bool, len(hosts))
	streams := make([]*remote.Stream, len(hosts))
	var (
		wg     sync.WaitGroup
		failed sync.Once
		stop   = make(chan struct{})
		sem    = make(chan struct{}, l.o.Concurrency)
	)
launch:
	for i, h := range hosts {
		select {
		case <-stop:
			break launch
		case sem <- struct{}{}:
		}
		select {
		case <-stop: // a take failed while this one waited for its turn
			break launch
		default:
		}
		wg.Go(func() {
			defer func() { <-sem }()
			prevs[i], taken[i], streams[i], errs[i] = l.take(ctx, h)
			if errs[i] != nil {
				failed.Do(func() { close(stop) })
			}
		})
	}
	wg.Wait()
	l.mu.Lock()
	for i, h := range hosts {
		if taken[i] {
			l.held = append(l.held, h)
			l.lastOK = append(l.lastOK, l.now())
			l.dropped = append(l.dropped, false)
			l.streams = append(l.streams, streams[i])
		}
	}
	l.mu.Unlock()
	var first error
	for _, err := range errs {
		var held *HeldError
		if errors.As(err, &held) {
			return prevs, err
		}
		if first == nil {
			first = err
		}
	}
	return prevs, first
}

// streamer is a Host that can keep a command running (remote.Client): the
// take's shell then waits on its stdin for the release, which costs the
// host no new session, login shell and sh at the end of the run.
type streamer interface {
	Start(ctx context.Context, cmd string) (*remote.Stream, error)
}

// take acquires the lock on one host and returns the lock it replaced
// (broken, or expired), if any, whether the lock there is (or may be)
// this run's: with an error too when the answer was lost (a dropped
// connection), so that the caller releases it, and the take's command
// where it stays to release the lock. With Options.Also, the host's other
// script runs in the same session once the lock is taken.
func (l *Lock) take(ctx context.Context, h Host) (*Found, bool, *remote.Stream, error) {
	var also string
	var handle func([]byte)
	if l.o.Also != nil {
		if also, handle = l.o.Also(h.Name()); also == "" {
			handle = nil
		}
	}
	var (
		out, stderr []byte
		stream      *remote.Stream
		err         = ErrNoStream
	)
	if st, ok := h.(streamer); ok {
		out, stderr, stream, err = l.takeHeld(ctx, st, l.takeScript(also, true))
	}
	if errors.Is(err, ErrNoStream) {
		out, stderr, err = h.Run(ctx, l.takeScript(also, false))
	}
	lockOut, alsoOut, hasAlso := bytes.Cut(out, []byte("\n"+alsoMark+"\n"))
	res := parseResult(h.Name(), lockOut)
	if err != nil {
		// Unless the host answered with a failure of the script, the take
		// may have happened and its answer been lost: counted as taken, it
		// is released with the others (a release removes this run's lock
		// only, so one that never was is no harm).
		var exit *remote.ExitError
		maybe := res.State == "acquired" || !errors.As(err, &exit)
		return nil, maybe, nil, fmt.Errorf("take the deployment lock %s on %s: %w%s", l.o.Path, h.Name(), err, stderrSuffix(err, stderr))
	}
	switch res.State {
	case "acquired":
		if handle != nil && hasAlso {
			handle(alsoOut)
		}
		if res.Prev != nil && res.Prev.ID != "" {
			return res.Prev, true, stream, nil
		}
		return nil, true, stream, nil
	}
	if stream != nil {
		stream.Close()
	}
	switch res.State {
	case "held":
		if res.Prev == nil {
			return nil, false, nil, fmt.Errorf("take the deployment lock %s on %s: held, but its content is unreadable: %q", l.o.Path, h.Name(), out)
		}
		return nil, false, nil, &HeldError{Found: *res.Prev, Path: l.o.Path, Expiry: l.o.Expiry}
	default:
		return nil, false, nil, fmt.Errorf("take the deployment lock %s on %s: unexpected answer %q", l.o.Path, h.Name(), out)
	}
}

// ErrNoStream: the host holds no command for this take (its one stream is
// taken): the take runs as a command of its own, the release later too.
var ErrNoStream = errors.New("no stream for the take")

// takeHeld runs the take as a held command: its output up to heldMark is
// the take's, and the command stays waiting for the release. A take that
// ends there (refused, failed) gives its output and status as Run would,
// and no stream.
func (l *Lock) takeHeld(ctx context.Context, st streamer, script string) (out, stderr []byte, _ *remote.Stream, err error) {
	s, err := st.Start(ctx, script)
	if errors.Is(err, remote.ErrStreamBusy) {
		return nil, nil, nil, ErrNoStream
	}
	if err != nil {
		return nil, nil, nil, err
	}
	out, err = s.Until(ctx, heldMark)
	switch {
	case err == nil:
		return out, nil, s, nil
	case errors.Is(err, io.EOF):
		rest, stderr, err := s.Finish(ctx)
		return append(out, rest...), stderr, nil, err
	default:
		s.Close()
		return out, nil, nil, err
	}
}

// takeScript takes the lock on a host: the holder's lines are in the script
// itself, not on stdin, so that the take runs from its start to its answer
// without waiting for its client (a round trip less per host, and a held
// take's stdin carries only the release); the lock file is written in
// place, under the mutex, by the shell's own redirection (an empty file is
// no lock: a write cut short leaves nothing that looks held). These scripts
// run on every host at once, and a process less each is a fork and exec
// less per host. With held, a take that acquired stays, outside the mutex,
// for the release (heldTail).
func (l *Lock) takeScript(also string, held bool) string {
	brk := "0"
	if l.o.Break {
		brk = "1"
	}
	tail := "exit 0\n"
	if held {
		tail = l.heldTail()
	}
	return l.guarded(fmt.Sprintf(`content=%[5]s
w=1
if [ -s "$f" ]; then
  if ours; then
    w=0; touch "$f"
  else
    age=$(( $(date +%%s) - $(stat -c %%Y "$f") ))
    if [ %[1]s = 0 ] && [ "$age" -le %[2]d ]; then echo state=held; echo "age=$age"; sed 's/^/prev./' "$f"; exit 0; fi
    echo "age=$age"; sed 's/^/prev./' "$f"
  fi
fi
[ $w = 0 ] || printf '%%s' "$content" > "$f" || { : > "$f"; exit 1; }
echo state=acquired
exec 9>&-
%[3]s%[4]s`, brk, int(l.o.Expiry.Seconds()), withAlso(also), tail, shellQuote(string(l.me.encode()))))
}

// heldMark is the line after which a held take waits for the release.
const heldMark = "dcctl-lock-held"

// heldTail is the end of a held take: it says so (heldMark) and waits for
// one line on its stdin. "release" releases the lock as releaseScript does;
// anything else, or the end of stdin (dcctl or its connection gone), ends
// it and leaves the lock to its holder's heartbeat or its expiry.
func (l *Lock) heldTail() string {
	return fmt.Sprintf(`echo %s
IFS= read -r c || exit 0
[ "$c" = release ] || exit 0
set -e
exec 9>>"$f.mutex"
flock -w 20 9 || { echo "another dcctl holds $f.mutex for over 20s" >&2; exit 1; }
%s`, heldMark, releaseBody)
}

// alsoMark is the line between the take's answer and Options.Also's script's
// output.
const alsoMark = "dcctl-lock-also"

// withAlso runs also once the take answered acquired, outside the mutex
// (the lock file is this run's by then, and the take's shell has let go of
// the flock), in a subshell of its own with set -e off, its exits its own.
// Its output follows alsoMark whatever its status; the command's status is
// the take's. "" adds nothing.
func withAlso(also string) string {
	if also == "" {
		return ""
	}
	return fmt.Sprintf(`set +e
echo %s
(
%s
)
`, alsoMark, also)
}

// guarded wraps body so that it runs under the host-side mutex, with $f set
// to the lock file, and ours telling whether $f is this run's lock (by the
// shell's own read, not grep: a process less per host).
func (l *Lock) guarded(body string) string {
	return fmt.Sprintf(`set -e
f=%[1]s
d=${f%%/*}; d=${d:-/}
[ -d "$d" ] || mkdir -p -m 755 "$d"
exec 9>>"$f.mutex"
flock -w 20 9 || { echo "another dcctl holds $f.mutex for over 20s" >&2; exit 1; }
ours() {
  [ -f "$f" ] || return 1
  while IFS= read -r l || [ -n "$l" ]; do [ "$l" != %[2]s ] || return 0; done < "$f"
  return 1
}
%[3]s`, shellQuote(l.o.Path), shellQuote("id="+l.me.ID), body)
}

// result is what the host scripts print: state=, age=, prev.<key>=.
type result struct {
	State string
	Prev  *Found
}

func parseResult(node string, out []byte) result {
	var r result
	prev := Found{Node: node}
	seen := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "state":
			r.State = v
		case "age":
			// (2^31 seconds is 68 years: beyond, the answer is junk)
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 1<<31 {
				prev.Age = time.Duration(n) * time.Second
			} else if err == nil && n < 0 && n >= -1<<31 {
				prev.Ahead = time.Duration(-n) * time.Second
			}
		case "prev.id":
			prev.ID, seen = v, true
		case "prev.who":
			prev.Who, seen = v, true
		case "prev.pid":
			prev.PID, _ = strconv.Atoi(v)
			seen = true
		case "prev.since":
			prev.Since, _ = time.Parse(time.RFC3339, v)
			seen = true
		case "prev.command":
			prev.Command, seen = v, true
		}
	}
	if seen {
		r.Prev = &prev
	}
	return r
}

// heartbeat touches the lock on every held host until Release, each host
// every Options.Heartbeat from an interval after the takes on, the hosts'
// refreshes spread evenly over the interval (one every Heartbeat/n) rather
// than all at once: each refresh is
// an SSH session and a script, and a thousand at once queue on a loaded
// operator's machine (or on hosts that share CPUs) until the last of them
// run past their timeout, while a lock's refresh is the last thing that
// may starve. A host whose refresh still runs when its turn comes again
// (bounded by RefreshTimeout) is skipped that round; a hung host holds back
// no other host's refresh.
func (l *Lock) heartbeat() {
	defer close(l.done)
	l.mu.Lock()
	n := len(l.held)
	l.mu.Unlock()
	if n == 0 {
		<-l.bg.Done()
		return
	}
	step := max(l.o.Heartbeat/time.Duration(n), time.Millisecond)
	busy := make([]atomic.Bool, n)
	var wg sync.WaitGroup
	defer wg.Wait()
	// The first round starts an interval after the takes, as the first
	// refresh did when all hosts were refreshed at once: a run shorter
	// than that refreshes nothing. Each turn is due at its own time from
	// there, so that late wake-ups on a loaded machine do not add up.
	first := time.Now().Add(l.o.Heartbeat)
	t := time.NewTimer(l.o.Heartbeat)
	defer t.Stop()
	for j := 0; ; j++ {
		select {
		case <-l.bg.Done():
			return
		case <-t.C:
		}
		t.Reset(max(time.Until(first.Add(time.Duration(j+1)*step)), 0))
		k := j % n
		if !busy[k].CompareAndSwap(false, true) {
			continue
		}
		wg.Go(func() {
			defer busy[k].Store(false)
			l.refreshHost(k)
		})
	}
}

// beat refreshes every held host once, in parallel, each within its own
// RefreshTimeout.
func (l *Lock) beat() {
	l.mu.Lock()
	n := len(l.held)
	l.mu.Unlock()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { l.refreshHost(i) })
	}
	wg.Wait()
}

// refreshHost refreshes held host i within RefreshTimeout.
func (l *Lock) refreshHost(i int) {
	l.mu.Lock()
	if i >= len(l.held) || (i < len(l.dropped) && l.dropped[i]) {
		l.mu.Unlock()
		return
	}
	h := l.held[i]
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(l.bg, l.o.RefreshTimeout)
	defer cancel()
	l.refresh(ctx, i, h)
}

func (l *Lock) refresh(ctx context.Context, i int, h Host) {
	script := l.guarded(`if ours; then touch "$f"; echo state=refreshed; exit 0; fi
echo state=lost
if [ -s "$f" ]; then echo "age=$(( $(date +%s) - $(stat -c %Y "$f") ))"; sed 's/^/prev./' "$f"; fi
`)
	out, _, err := l.run(ctx, i, h, script)
	res := parseResult(h.Name(), out)
	if err == nil && res.State != "refreshed" && res.State != "lost" {
		err = fmt.Errorf("unexpected answer %q", out)
	}
	switch {
	case err != nil:
		l.refreshFailed(i, h, err)
	case res.State == "refreshed":
		l.mu.Lock()
		if i < len(l.lastOK) {
			l.lastOK[i] = l.now()
		}
		delete(l.silent, i)
		l.mu.Unlock()
	default:
		who := "nobody holds it now"
		if res.Prev != nil {
			who = "now held by " + res.Prev.String()
		}
		l.o.Notice(fmt.Sprintf("%s: this run's deployment lock was removed (--break-lock?): %s", h.Name(), who))
		l.setLost(&LostError{Node: h.Name(), Reason: "this run's lock was removed (--break-lock?): " + who})
	}
}

// refreshFailed reports a refresh that failed, and loses the lock once
// refreshes on that host have failed for over half the expiry.
func (l *Lock) refreshFailed(i int, h Host, err error) {
	if l.bg.Err() != nil {
		return // released meanwhile: nothing to report
	}
	l.mu.Lock()
	var failing time.Duration
	if i < len(l.lastOK) {
		failing = l.now().Sub(l.lastOK[i])
	}
	fresh := l.freshExcept(i)
	said := l.silent[i]
	silent, isSilent := hostSilent(h.Name(), err)
	if isSilent {
		if l.silent == nil {
			l.silent = map[int]bool{}
		}
		l.silent[i] = true
	}
	l.mu.Unlock()
	switch {
	case !isSilent:
		l.o.Notice(fmt.Sprintf("%s: could not refresh the deployment lock's heartbeat: %v", h.Name(), err))
	case !said:
		// Once per outage, not at every heartbeat: what follows (the
		// host left out, or the lock lost) is said when it happens.
		l.o.Notice(silent + ": the deployment lock there is not refreshed until it answers again")
	}
	if failing <= l.o.Expiry/2 {
		return
	}
	last := err.Error()
	if isSilent {
		last = silent
	}
	reason := fmt.Sprintf("its heartbeat could not be refreshed for %s, over half the lock's expiry (%s), so another run may take it over (last: %s)",
		failing.Round(time.Second), l.o.Expiry, last)
	if l.o.Enough != nil && len(fresh) > 0 {
		short := l.o.Enough(fresh)
		if short == nil {
			l.mu.Lock()
			if i < len(l.dropped) {
				l.dropped[i] = true
			}
			l.mu.Unlock()
			l.o.Notice(fmt.Sprintf("%s: left out of this run's deployment lock: its heartbeat could not be refreshed for %s (the lock there expires by itself); the run goes on, its lock held on %s",
				h.Name(), failing.Round(time.Second), strings.Join(fresh, ", ")))
			return
		}
		reason += ", and the hosts still holding it are not enough: " + short.Error()
	}
	l.setLost(&LostError{Node: h.Name(), Reason: reason})
}

// freshExcept lists the held hosts other than i whose lock was last known
// to be ours within half the expiry. l.mu is held.
func (l *Lock) freshExcept(i int) []string {
	var out []string
	now := l.now()
	for j, h := range l.held {
		if j == i || j >= len(l.lastOK) || (j < len(l.dropped) && l.dropped[j]) {
			continue
		}
		if now.Sub(l.lastOK[j]) <= l.o.Expiry/2 {
			out = append(out, h.Name())
		}
	}
	return out
}

// setLost records the first reason the lock was lost and tells the waiters.
func (l *Lock) setLost(err *LostError) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return
	}
	l.lost = err
	close(l.lostCh)
}

// Lost is closed when the lock is lost; Err then says why.
func (l *Lock) Lost() <-chan struct{} { return l.lostCh }

// Err is nil while the lock is held, a *LostError once it is lost.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost == nil {
		return nil
	}
	return l.lost
}

// Context returns a context derived from parent that is cancelled, with the
// *LostError as its cause (context.Cause), when the lock is lost: the run
// that works under it stops at its next step.
func (l *Lock) Context(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		select {
		case <-l.lostCh:
			cancel(l.Err())
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// run runs script on held host i, once more through a fresh connection if
// the old one broke (not if the script itself failed).
func (l *Lock) run(ctx context.Context, i int, h Host, script string) ([]byte, []byte, error) {
	out, stderr, err := h.Run(ctx, script)
	var exit *remote.ExitError
	if err == nil || errors.As(err, &exit) || l.o.Redial == nil || ctx.Err() != nil {
		return out, stderr, err
	}
	nh, derr := l.o.Redial(ctx, h.Name())
	if derr != nil {
		return out, stderr, &redialError{err: err, redial: derr}
	}
	l.mu.Lock()
	if i < len(l.held) && l.held[i] == h {
		l.held[i] = nh
	}
	l.mu.Unlock()
	return nh.Run(ctx, script)
}

// Release stops the heartbeat and removes this run's lock from every host
// (the file is left empty; a lock that someone broke and took in the
// meantime stays). It reports
// the hosts where that failed; their lock expires by itself.
func (l *Lock) Release(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.stopBeat()
	<-l.done
	return l.releaseAll(ctx)
}

// releaseBody removes this run's lock, under the mutex ($f and ours as
// guarded sets them), and says so. It empties the file by the shell's own
// redirection rather than deleting it: an empty file is no lock to a take,
// a refresh and Inspect alike, and this runs on every host at the end of
// every run, where an rm is a fork and exec more per host.
const releaseBody = `if ours; then : > "$f"; fi
echo state=released
`

func (l *Lock) releaseAll(ctx context.Context) error {
	script := l.guarded(releaseBody)
	l.mu.Lock()
	hosts := append([]Host(nil), l.held...)
	streams := append([]*remote.Stream(nil), l.streams...)
	l.mu.Unlock()
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			if i < len(streams) && streams[i] != nil && releaseHeld(ctx, streams[i]) {
				return
			}
			if _, stderr, err := l.run(ctx, i, h, script); err != nil {
				if silent, ok := hostSilent(h.Name(), err); ok {
					errs[i] = fmt.Errorf("%s: the lock there expires %s after its last heartbeat", silent, l.o.Expiry)
					return
				}
				// A connection's errors already start with the host's name.
				name := h.Name() + ": "
				if strings.HasPrefix(err.Error(), name) {
					name = ""
				}
				errs[i] = fmt.Errorf("%s%w%s (the lock there expires %s after its last heartbeat)", name, err, stderrSuffix(err, stderr), l.o.Expiry)
			}
		})
	}
	wg.Wait()
	l.mu.Lock()
	l.held, l.lastOK, l.streams, l.dropped = nil, nil, nil, nil
	l.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("release the deployment lock: %w", err)
	}
	return nil
}

// releaseHeld releases the lock through the take's waiting command, and
// says whether it did; if not (the connection broke, the script failed),
// the caller releases it in a session of its own.
func releaseHeld(ctx context.Context, s *remote.Stream) bool {
	if err := s.Send([]byte("release\n")); err != nil {
		s.Close()
		return false
	}
	out, _, err := s.Finish(ctx)
	return err == nil && parseResult("", out).State == "released"
}

// Inspect reads the lock on each host without changing anything: for
// status-like commands and tests. Hosts without a lock are left out.
func Inspect(ctx context.Context, hosts []Host, path string) ([]Found, error) {
	if path == "" {
		path = DefaultPath
	}
	var out []Found
	var errs []error
	for _, h := range hosts {
		script := fmt.Sprintf(`f=%s; if [ -s "$f" ]; then echo "age=$(( $(date +%%s) - $(stat -c %%Y "$f") ))"; sed 's/^/prev./' "$f"; fi`, shellQuote(path))
		res, stderr, err := h.Run(ctx, script)
		if err != nil {
			errs = append(errs, fmt.Errorf("read the deployment lock on %s: %w%s", h.Name(), err, stderrSuffix(err, stderr)))
			continue
		}
		if r := parseResult(h.Name(), res); r.Prev != nil {
			out = append(out, *r.Prev)
		}
	}
	return out, errors.Join(errs...)
}

// stderrSuffix is ": " and stderr, for an error that does not carry it
// already (a *remote.ExitError does).
func stderrSuffix(err error, stderr []byte) string {
	var exit *remote.ExitError
	if errors.As(err, &exit) {
		return ""
	}
	if s := strings.TrimSpace(string(stderr)); s != "" {
		return ": " + s
	}
	return ""
}

// shellQuote quotes s for POSIX sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// redialError is a command that failed on a broken connection, and the
// dial that was to replace it.
type redialError struct{ err, redial error }

func (e *redialError) Error() string {
	return fmt.Sprintf("%v (reconnecting: %v)", e.err, e.redial)
}
func (e *redialError) Unwrap() error { return e.err }

// hostSilent words a failure to reach a held host for the operator ("b does
// not answer over SSH (connection refused (no sshd listening))"), without
// the command that was to run or the key file's path; false for a command
// that ran and failed, whose own words say more.
func hostSilent(name string, err error) (string, bool) {
	var exit *remote.ExitError
	if errors.As(err, &exit) {
		return "", false
	}
	cause := remote.ShortCause(err)
	var re *redialError
	if errors.As(err, &re) {
		cause = remote.ShortCause(re.err) + "; reconnecting: " + remote.ShortCause(re.redial)
	}
	return fmt.Sprintf("%s does not answer over SSH (%s)", name, cause), true
}
