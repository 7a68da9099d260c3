package provision

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcctl/dcctl/remote"
)

// A phase is one named step of Apply on one host: the step lists in
// apply.go say what Apply does, in order; a phase's file says how. ShouldRun
// decides from the host's plan alone whether the phase has work there.
//
// A phase works in one of two ways. A runner does I/O of its own (an upload,
// a wait behind a health gate). A scripter gives a piece of shell; the
// phases' scripters that follow one another run as one script on the host,
// so that many steps cost one SSH round trip. The optional interfaces
// explainer and reporter let a scripter word its failure and log its
// outcome.
type phase interface {
	Title() string
	ShouldRun(p *HostPlan) bool
}

// runner is a phase that does its own I/O.
type runner interface {
	phase
	Run(ctx context.Context, h *hostRun) error
}

// scripter is a phase whose work is shell: commands joined with && or
// stopped with `return 1` on failure, run in a function of their own (local
// variables are not needed, but what one sets, the next ones see). A failing
// piece stops the script; what it wrote to stderr makes the error.
type scripter interface {
	phase
	Script(h *hostRun) string
}

// inProcess is a scripter that can do its work over the host's SFTP
// session instead, in the sftp-server already running there, with no
// program started on the host: when InProcess says it can, the script so
// far runs, then RunInProcess, and the scripters after it make the next
// script. When it cannot (over exec; a server without the extension it
// needs), its piece of shell runs as any other.
type inProcess interface {
	InProcess(h *hostRun) bool
	RunInProcess(ctx context.Context, h *hostRun) error
}

// explainer words a scripter's failure for the operator; stderr is what the
// failed piece wrote there.
type explainer interface {
	Explain(ctx context.Context, h *hostRun, stderr string) error
}

// reporter hears the script's standard output once its piece ran to its
// end (also when a later piece failed), to log what its phase did.
type reporter interface {
	Done(h *hostRun, stdout string)
}

// hostRun is one host during Apply: its plan, its connection, and what
// earlier phases learned for later ones.
type hostRun struct {
	s       *Session
	p       *HostPlan
	c       *remote.Client
	log     *lineLog
	timeout time.Duration                 // each health-gate wait
	upload  func(node string, n, t int64) // binary upload progress, or nil
	trace   *tracer                       // nil: no trace

	// what each staged upload (by path) did on the host besides the write
	stagedMu sync.Mutex
	staged   map[string]remote.Staged

	// binary upload, for the line that says it is installed
	binarySize int64
	binaryTook time.Duration
	version    string
}

func (h *hostRun) node() string   { return h.p.Node.Name }
func (h *hostRun) say(msg string) { h.log.say(h.node(), msg) }
func (h *hostRun) unit() string   { return h.s.Inv.NATS.Service + ".service" }

// stage uploads f to its temporary name and remembers what the upload did
// there besides the write (remote.Staged). Its flush is the install
// script's (flushUploads), beside the checks.
func (h *hostRun) stage(ctx context.Context, f remote.File, progress func(int64)) error {
	t0 := time.Now()
	f.FlushLater = true
	st, err := h.c.Stage(ctx, f, progress)
	h.trace.done(h.node(), fmt.Sprintf("upload %s (settled %v, flushed %v)", f.Path, st.Settled, st.Flushed), t0)
	if err != nil {
		return err
	}
	h.stagedMu.Lock()
	defer h.stagedMu.Unlock()
	if h.staged == nil {
		h.staged = map[string]remote.Staged{}
	}
	h.staged[f.Path] = st
	return nil
}

// stagedAs is what the upload of the file at p did besides the write.
func (h *hostRun) stagedAs(p string) remote.Staged {
	h.stagedMu.Lock()
	defer h.stagedMu.Unlock()
	return h.staged[p]
}

// runPhases runs, in order, the phases whose ShouldRun holds for h's plan,
// and stops at the first that fails.
func runPhases(ctx context.Context, h *hostRun, phases []phase) error {
	var batch []scripter
	for _, ph := range phases {
		if !ph.ShouldRun(h.p) {
			continue
		}
		if ip, ok := ph.(inProcess); ok && ip.InProcess(h) {
			if err := runScripts(ctx, h, batch); err != nil {
				return err
			}
			batch = nil
			t0 := time.Now()
			err := ip.RunInProcess(ctx, h)
			h.trace.done(h.node(), "over sftp: "+ph.Title(), t0)
			if err != nil {
				return err
			}
			if r, ok := ph.(reporter); ok {
				r.Done(h, "")
			}
			continue
		}
		switch ph := ph.(type) {
		case scripter:
			batch = append(batch, ph)
		case runner:
			if err := runScripts(ctx, h, batch); err != nil {
				return err
			}
			batch = nil
			t0 := time.Now()
			err := ph.Run(ctx, h)
			if _, nested := ph.(sideBySide); !nested {
				h.trace.done(h.node(), ph.Title(), t0)
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("phase %q neither runs nor scripts (a bug)", ph.Title())
		}
	}
	return runScripts(ctx, h, batch)
}

// failMark starts the line a script writes to stderr when one of its pieces
// fails: the piece's index and exit status.
const failMark = "dcctl-phase-failed "

// batchScript joins the pieces into one script: each a function, called in
// order; the first that fails names itself on stderr and ends the script.
func batchScript(h *hostRun, batch []scripter) string {
	var b strings.Builder
	titles := make([]string, len(batch))
	for i, ph := range batch {
		titles[i] = ph.Title()
	}
	// The first line is what errors quote of a command.
	fmt.Fprintf(&b, "# dcctl: %s\n", strings.Join(titles, ", "))
	for i, ph := range batch {
		fmt.Fprintf(&b, "phase%d() {\n%s\n}\n", i, strings.TrimSpace(ph.Script(h)))
	}
	for i := range batch {
		fmt.Fprintf(&b, "phase%[1]d || { echo \"%[2]s%[1]d $?\" >&2; exit 1; }\n", i, failMark)
	}
	return b.String()
}

// runScripts runs a batch of scripters as one script.
func runScripts(ctx context.Context, h *hostRun, batch []scripter) error {
	if len(batch) == 0 {
		return nil
	}
	t0 := time.Now()
	out, stderr, err := h.c.Run(ctx, batchScript(h, batch))
	if h.trace != nil {
		titles := make([]string, len(batch))
		for i, ph := range batch {
			titles[i] = ph.Title()
		}
		h.trace.done(h.node(), "script: "+strings.Join(titles, ", "), t0)
	}
	if err != nil {
		var ee *remote.ExitError
		if errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		if i, status, rest, ok := failedPiece(stderr, len(batch)); ok {
			// The pieces before the failed one did their work.
			report(h, batch[:i], string(out))
			ph := batch[i]
			if ex, ok := ph.(explainer); ok {
				return ex.Explain(ctx, h, rest)
			}
			return &PhaseError{Phase: ph.Title(), Node: h.node(), Status: status, Stderr: rest}
		}
		titles := make([]string, len(batch))
		for i, ph := range batch {
			titles[i] = ph.Title()
		}
		return fmt.Errorf("%s: %w", strings.Join(titles, ", "), withStderr(err, stderr))
	}
	report(h, batch, string(out))
	return nil
}

// report gives the script's output to the pieces that ran to their end.
func report(h *hostRun, batch []scripter, stdout string) {
	for _, ph := range batch {
		if r, ok := ph.(reporter); ok {
			r.Done(h, stdout)
		}
	}
}

// failedPiece finds the fail mark in a script's stderr: which piece failed,
// its status, and what it wrote before.
func failedPiece(stderr []byte, n int) (i, status int, rest string, ok bool) {
	s := strings.TrimRight(string(stderr), "\n")
	at := strings.LastIndex(s, failMark)
	if at < 0 || (at > 0 && s[at-1] != '\n') {
		return 0, 0, "", false
	}
	f := strings.Fields(s[at+len(failMark):])
	if len(f) != 2 {
		return 0, 0, "", false
	}
	i, err1 := strconv.Atoi(f[0])
	status, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || i < 0 || i >= n {
		return 0, 0, "", false
	}
	return i, status, strings.TrimSpace(s[:at]), true
}

// PhaseError is a phase that failed on a host.
type PhaseError struct {
	Phase  string
	Node   string
	Status int
	Stderr string // what the phase wrote to stderr, secrets never included
}

func (e *PhaseError) Error() string {
	msg := fmt.Sprintf("%s failed on %s (exit status %d)", e.Phase, e.Node, e.Status)
	if tail := strings.TrimSpace(e.Stderr); tail != "" {
		msg += ": " + tail
	}
	return msg
}

// linesWith returns the rest of each line of out that starts with prefix.
func linesWith(out, prefix string) []string {
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			got = append(got, rest)
		}
	}
	return got
}
