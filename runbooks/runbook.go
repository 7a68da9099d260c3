// Package runbooks holds the operator procedures dcctl automates
// (docs/runbooks.md describes each) and the small framework they share. A runbook is read-only pre-checks,
// then steps, then post-checks, in the order an operator reads the procedure
// on paper:
//
//   - a pre-check that fails refuses the run (exit 2) before anything changed,
//     saying why and what to do instead;
//   - steps are logged one by one; destructive ones are confirmed once before
//     the first step runs (unless --yes); a step already done is skipped and
//     says so, so a run interrupted halfway converges when run again;
//   - post-checks prove the outcome, comparing stream baselines recorded
//     before the steps with the state after them; a failure is exit 1.
//
// Every run writes a journal of JSON lines (see Journal). Each runbook lives in
// its own file, reading top to bottom as pre-checks, steps, post-checks.
package runbooks

import (
	"context"
	"io"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
)

// Afterword is a runbook that knows what the operator does after a run that
// is done: the inventory edits a run cannot make for them.
type Afterword interface {
	Next(e *Env) []string
}

// Runbook is one operator procedure.
type Runbook interface {
	// Name is the command name, e.g. "replace-peer".
	Name() string
	// Describe says what the runbook does, for `dcctl runbook list`, the
	// CLI's help and docs/runbooks.md (a test keeps them equal).
	Describe() Description
	// Settle works out what the run acts on (a node's domain, a backup's
	// stream) from the inventory and local files alone, before the checks
	// are built, so that they are named for real subjects. An error refuses
	// the run: the target does not exist.
	Settle(e *Env) error
	// Target names what the run acts on ("bb_emea_1", "stream foo in hub"),
	// for the header and the journal.
	Target() string
	// PreChecks are read-only. They may remember what they find (the
	// affected streams, their baselines) for Steps and PostChecks.
	PreChecks(e *Env) []Check
	// Steps is called once every pre-check passed.
	Steps(e *Env) []Step
	// PostChecks prove the outcome; they run after the last step.
	PostChecks(e *Env) []Check
}

// Check asserts one thing. Its Name says what it asserts, with its subject:
// "metaQuorumWithout(bb_emea_1)". A failing pre-check's error is shown to the
// operator as the reason for refusing: it should say what to do instead.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Step changes something.
type Step struct {
	Name string
	// Destructive steps stop, remove or overwrite something: the run asks for
	// confirmation before its first step when any of them is still to do.
	Destructive bool
	// Done, when set, reports whether the step's effect is already in place
	// (a re-run after an interruption): the step is then skipped. It must be
	// read-only: dry runs call it too.
	Done func(ctx context.Context) (bool, error)
	// NotNeeded, when set, is what a skip says instead of "already done":
	// for a step whose Done finds nothing to do rather than its own effect
	// in place (a re-provision of a host whose files never drifted).
	NotNeeded string
	// Run does the step; progress reports what it waits for (replica lag).
	Run func(ctx context.Context, progress func(string)) error
}

// Env is what a runbook works with: the inventory, the session that reaches
// hosts and NATS, the hosts' units, and where it reports.
type Env struct {
	Inv     *inventory.Inventory
	Session *provision.Session
	Hosts   Hosts
	// Out receives the human-readable log of the run.
	Out io.Writer
	// Events, when set, receives every journal entry as a JSON line as it
	// is written (--json: a script follows the run as the journal has it).
	Events io.Writer
	// Journal records every check and step; set by Run.
	Journal *Journal
	// Timeout bounds each wait for replicas, peers and health; default 3m.
	Timeout time.Duration
	// DryRun runs the pre-checks and lists the steps without running them.
	DryRun bool
	// Confirm asks the operator before the first destructive step; nil means
	// confirmed (--yes). An error refuses the run.
	Confirm func(question string) error
	// Version is dcctl's version, written into backup manifests.
	Version string
}

func (e *Env) timeout() time.Duration {
	if e.Timeout > 0 {
		return e.Timeout
	}
	return 3 * time.Minute
}

// Description is a runbook's entry in `dcctl runbook list`.
type Description struct {
	Name string `json:"name"`
	// Command is how it is run: "dcctl runbook", or "dcctl" for backup.
	Command string `json:"command"`
	// Usage is its arguments after Command, as docs/runbooks.md heads its
	// section.
	Usage string   `json:"usage"`
	Short string   `json:"summary"`
	Pre   []string `json:"pre_checks"`
	Steps []string `json:"steps"`
	Post  []string `json:"post_checks"`
}

// All is every runbook, in the order an operator meets them, each with
// no target: what Catalog describes.
func All() []Runbook {
	return []Runbook{&ReplacePeer{}, &ExpandStream{}, &Backup{}, &RestoreStream{}, &RestoreNode{}, &RollingRestart{}, &Upgrade{}, &RotatePasswords{}, &RotateCerts{}}
}

// Catalog describes every runbook, in the order an operator meets them.
func Catalog() []Description {
	var out []Description
	for _, rb := range All() {
		out = append(out, rb.Describe())
	}
	return out
}
