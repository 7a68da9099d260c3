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

// Runbook is one operator procedure.
type Runbook interface {
	// Name is the command name, e.g. "replace-peer".
	Name() string
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
	Name  string   `json:"name"`
	Usage string   `json:"usage"`
	Short string   `json:"summary"`
	Pre   []string `json:"pre_checks"`
	Steps []string `json:"steps"`
	Post  []string `json:"post_checks"`
}

// Catalog describes every runbook, in the order an operator meets them.
func Catalog() []Description {
	return []Description{
		{
			Name: "replace-peer", Usage: "replace-peer NODE [--replacement NEWNODE] [--permanent] [--force]",
			Short: "move every stream replica off a dead node; optionally drop it from the meta group and bring up a replacement",
			Pre: []string{"the inventory knows NODE (and NEWNODE, a node of the same cluster)", "the domain has a meta leader and keeps quorum without NODE",
				"NODE is really down, on evidence: no ping reply and its host's systemd says the unit is not running; an unreachable host is no evidence (it may be alive behind a partition): refused unless --force, whose risk is printed", "every affected stream has a leader and a current majority without NODE, and a server to take the new replica",
				"baseline of each affected stream"},
			Steps: []string{"provision and start NEWNODE, wait until it is a current meta peer (--replacement)", "stream peer-remove NODE from each affected stream, wait for the new replica to be current",
				"meta peer-remove NODE (--permanent)"},
			Post: []string{"each stream has its replica count, all current, none on NODE; its recorded messages intact (growth allowed; the proof used is named)", "meta group has a leader and quorum; NODE gone (--permanent); NEWNODE current"},
		},
		{
			Name: "expand-stream", Usage: "expand-stream STREAM --domain D [--replicas 3] [--tag TAG]...",
			Short: "raise a stream's replica count (R1 -> R3) and prove every replica holds the same data",
			Pre: []string{"the domain has a meta leader", "the stream exists with fewer replicas than wanted and its replicas are current",
				"enough online servers in the cluster (carrying every --tag)", "baseline"},
			Steps: []string{"with --tag: stream update of the placement tags, wait until every replica is on a tagged server and current", "stream update num_replicas, wait for the new replicas to be current"},
			Post:  []string{"N replicas, all current (on tagged servers with --tag); the recorded messages intact (growth allowed; the proof used is named)"},
		},
		{
			Name: "backup", Usage: "dcctl backup STREAM --domain D --out DIR",
			Short: "snapshot a file stream with its consumers, and write a manifest with its state and digest",
			Pre:   []string{"the domain has a meta leader", "the stream exists and is file-backed (memory streams cannot be snapshotted)", "DIR holds no other backup", "baseline"},
			Steps: []string{"snapshot to DIR (with consumers)", "write dcctl-manifest.json beside it"},
			Post:  []string{"the archive validates; the manifest matches the snapshot and the live state"},
		},
		{
			Name: "restore-stream", Usage: "restore-stream --from DIR [--domain D] [--replicas N] [--tag TAG]...",
			Short: "recreate a stream from a backup and prove it holds what the manifest says",
			Pre: []string{"the backup and its manifest validate", "the target domain has a meta leader and quorum", "no stream of that name in the domain (unless this backup's restore mark is on it)",
				"no stream of any reachable domain captures an overlapping subject", "enough online servers for the replicas (carrying every --tag)"},
			Steps: []string{"restore, marked with the archive's sha256 (as R1 when more replicas are wanted; confirmed when fewer than the backup's)", "scale to N replicas (lowering is confirmed), wait until current"},
			Post:  []string{"replicas current (on tagged servers with --tag); the manifest's range holds exactly its messages (growth allowed); consumers back"},
		},
		{
			Name: "restore-node", Usage: "restore-node NODE [--force]",
			Short: "bring a stopped or failed node back: re-provision it if its files drifted, start it, wait until it is whole",
			Pre:   []string{"the inventory knows NODE", "NODE's state is known from its host's systemd (an unreachable host is refused: it may be partitioned, not down); a unit that runs while NODE is not a current meta peer is refused unless --force", "the last sequence of every stream of its domain (when the domain can list them)", "whether its files drifted from the inventory (provision plan)"},
			Steps: []string{"re-provision NODE (only when drifted)", "start its unit"},
			Post:  []string{"NODE healthy, a current meta peer, its stream replicas current (the provision health gate)", "no stream behind its recorded last sequence"},
		},
		{
			Name: "rolling-restart", Usage: "rolling-restart [--cluster C]",
			Short: "restart every node of a cluster (or all clusters) one at a time behind the health gate",
			Pre:   []string{"every node's host is reachable and its unit active", "each domain has a meta leader", "the last sequence of every stream"},
			Steps: []string{"per node: gate (it can go down safely), restart, gate (healthy, current, replicas current)"},
			Post:  []string{"every node healthy and a current meta peer; every stream current (none lost quorum) and not behind its recorded last sequence"},
		},
		{
			Name: "upgrade", Usage: "upgrade --binary FILE [--cluster C] [--allow-downgrade] | upgrade --rollback [--cluster C]",
			Short: "roll a new nats-server release through the deployment behind the gates (hub before leaves, meta leader last), or back",
			Pre: []string{"the new binary's release, read from its Go build information (not run)", "every node's unit active",
				"no server runs a newer minor release (unless --allow-downgrade); --rollback: the nodes keeping a .previous binary of another release",
				"the binary's architecture is every host's", "each domain has a meta leader and quorum, every stream current", "baseline of every stream"},
			Steps: []string{"stage: the binary uploaded to <install_path>.next on every host, verified and run with --version; nothing running touched",
				"per node, hub clusters first (--rollback: leaves first), the meta leader last: gate, meta step-down if it leads, lame-duck stop, swap (the old binary kept as .previous), start, gate (healthy, current meta peer, replicas current, /varz the new release)"},
			Post: []string{"every node reports the release it should run", "every node healthy, a current meta peer", "every stream current; its recorded messages intact (the proof used is named)"},
		},
		{
			Name: "rotate-passwords", Usage: "rotate-passwords [--user U] [--finish] [--replace-lost]",
			Short: "new NATS passwords rolled out behind the gates; the old ones keep working until --finish, the leaf links stay up",
			Pre:   []string{"the users are in the inventory, not from DCCTL_PASSWORD_*, no <user>-next in the inventory", "no rotation finishing (begin) / a rotation under way (--finish)", "every host reachable"},
			Steps: []string{"begin: new passwords saved (the old file kept as .previous); every server accepts <user>-next with the new password (reload); leaf remotes log in as <user>-next (gated restarts)",
				"--finish: the user's own name takes the new password (reload; clients still on the old one are cut off); leaf remotes back on the user's name; the companion dropped, .previous removed",
				"--replace-lost: new passwords for the users missing from the secrets file, saved and rolled out at once"},
			Post: []string{"every leaf node has its leafnode links, one per account (its /leafz)", "nothing left for provision to change"},
		},
	}
}
