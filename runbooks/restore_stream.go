package runbooks

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dcctl/dcctl/jetstream"
)

// RestoreStream recreates a stream from a dcctl backup and proves it holds
// exactly what the manifest says. With more than one replica it restores
// R1 and then scales up, so that one server takes in the archive and the others
// catch up over the cluster's routes.
type RestoreStream struct {
	From   string
	Domain string // default: the manifest's source domain
	// Account is the JetStream account to restore into; default: the
	// manifest's source account.
	Account  string
	Replicas int // default: the manifest's replica count
	// Tags, when set, place every replica on servers carrying all of them
	// (JetStream placement tags; dc:<dc> places by data center).
	Tags []string
	// As is the name the restored stream gets; default: the backed-up
	// stream's.
	As string

	manifest *Manifest
	// backupTags are the backed-up stream's placement tags, which the
	// restore keeps unless Tags replaces them.
	backupTags []string
	ref        streamRef // the stream to create: the target account and the backup's name
	label      string    // ref for output
	// exists is set when the stream is already there with this backup's
	// restore mark: an earlier run restored it, the restore step is done.
	exists *jetstream.StreamState
}

func (r *RestoreStream) Name() string { return "restore-stream" }

// Describe is the runbook's entry in `dcctl runbook list`.
func (r *RestoreStream) Describe() Description {
	return Description{
		Name: "restore-stream", Command: "dcctl runbook", Usage: "restore-stream --from DIR [--as NAME] [--domain D] [--account A] [--replicas N] [--tag TAG]...",
		Short: "recreate a stream from a backup and prove it holds what the manifest says",
		Pre: []string{"the backup and its manifest validate (with --as: a valid stream name, and an archive written by nats-server v2.15 or later); the target account (--account, else the backup's) is a JetStream account", "the target domain has a meta leader and quorum", "no stream of that name (--as NAME, else the backup's) in the account and domain (unless this backup's restore mark is on it)",
			"no stream of the account in any reachable domain captures an overlapping subject", "enough online servers for the replicas (carrying every --tag, else the backup's own placement tags)"},
		Steps: []string{"restore, marked with the archive's sha256 (as R1 when more replicas are wanted; confirmed when fewer than the backup's)", "scale to N replicas (lowering is confirmed), wait until current"},
		Post:  []string{"replicas current (on tagged servers with --tag); the manifest's range holds exactly its messages (growth allowed); consumers back"},
	}
}

func (r *RestoreStream) Target() string {
	if r.manifest != nil {
		label := r.label
		if label == "" { // Settle refused the account or the name
			label = r.stream()
		}
		if r.renamed() {
			label += " (backup of " + r.manifest.Stream + ")"
		}
		return fmt.Sprintf("%s from %s to domain %s as R%d", label, r.From, r.domain(), r.replicas())
	}
	return "from " + r.From
}

func (r *RestoreStream) domain() string {
	if r.Domain == "" && r.manifest != nil {
		return r.manifest.Domain
	}
	return r.Domain
}

func (r *RestoreStream) replicas() int {
	if r.Replicas > 0 {
		return r.Replicas
	}
	if r.manifest != nil && r.manifest.Replicas > 0 {
		return r.manifest.Replicas
	}
	return 1
}

// stream is the name the restored stream has: --as, else the backup's.
func (r *RestoreStream) stream() string {
	if r.As != "" {
		return r.As
	}
	return r.manifest.Stream
}

func (r *RestoreStream) renamed() bool { return r.As != "" && r.As != r.manifest.Stream }

// tags are the placement tags the restored stream gets: --tag's, else the
// backed-up stream's own (a stream placed by dc:<dc> restores into that DC
// only, unless told otherwise).
func (r *RestoreStream) tags() []string {
	if len(r.Tags) > 0 {
		return r.Tags
	}
	return r.backupTags
}

// Settle reads the backup: its manifest names the stream, and the target
// domain and account unless --domain and --account do; some cluster must
// serve the domain, and the account must be a JetStream account.
func (r *RestoreStream) Settle(e *Env) error {
	m, info, err := ReadManifest(r.From)
	if err != nil {
		return err
	}
	r.manifest = m
	r.backupTags = info.PlacementTags
	if err := r.checkNewName(); err != nil {
		return err
	}
	account, err := r.account(e)
	if err != nil {
		return err
	}
	r.ref = streamRef{account, r.stream()}
	r.label = e.label(r.ref)
	e.Journal.Baseline("manifest", r.label, m.Baseline)
	return knownDomain(e, r.domain())
}

// checkNewName refuses an --as name nats-server would refuse, and a backup
// whose archive cannot take another name: before any connection, rather than
// at the restore step.
func (r *RestoreStream) checkNewName() error {
	if !r.renamed() {
		return nil
	}
	if strings.ContainsAny(r.As, " \t\r\n\f.*>\\/") || len(r.As) > 255 {
		return fmt.Errorf("--as %q is not a stream name: at most 255 characters, none of them a space, '.', '*', '>', '/' or '\\'", r.As)
	}
	ok, err := jetstream.RenamableSnapshot(r.From)
	if err != nil {
		return fmt.Errorf("backup in %s: %w", r.From, err)
	}
	if !ok {
		return fmt.Errorf("--as cannot rename this backup: %s was taken from nats-server older than v2.15, whose archive carries the stream's name, and nats-server restores it only as %s; restore it without --as (into another domain with --domain, or another account with --account, where the name %s is free)",
			r.From, r.manifest.Stream, r.manifest.Stream)
	}
	return nil
}

// account is the account to restore into: --account, else the backup's.
func (r *RestoreStream) account(e *Env) (string, error) {
	accounts := e.jsAccounts()
	switch {
	case r.Account != "":
		return r.Account, knownAccount(e, r.Account)
	case r.manifest.Account != "" && slices.Contains(accounts, r.manifest.Account):
		return r.manifest.Account, nil
	case r.manifest.Account != "":
		return "", fmt.Errorf("the backup in %s is of stream %s of account %s, which is not a JetStream account of %s: restore it into one with --account NAME (JetStream accounts: %s)",
			r.From, r.manifest.Stream, r.manifest.Account, e.Inv.File, strings.Join(accounts, ", "))
	case len(accounts) == 1:
		return accounts[0], nil
	}
	return "", fmt.Errorf("the backup in %s does not name the account of stream %s (an older dcctl wrote it) and %s has JetStream accounts %s: say which to restore into with --account NAME",
		r.From, r.manifest.Stream, e.Inv.File, strings.Join(accounts, ", "))
}

func (r *RestoreStream) PreChecks(e *Env) []Check {
	n := r.replicas()
	return []Check{
		metaLeader(e, r.domain()),
		{Name: fmt.Sprintf("streamNameFree(%s)", r.label), Run: func(ctx context.Context) error {
			nc, err := e.natsIn(ctx, r.ref.Account)
			if err != nil {
				return err
			}
			st, err := nc.Stream(ctx, r.domain(), r.stream())
			switch {
			case jetstream.IsErrCode(err, jetstream.ErrCodeStreamNotFound):
				return nil
			case err != nil:
				return err
			}
			// Converge only on a stream an earlier run of this restore made:
			// it carries the mark the restore request set. A stream that
			// merely holds the same messages is someone else's (restored by
			// hand, or by another backup of the same data).
			if st.Metadata[RestoredFromKey] == r.manifest.ArchiveSHA256 {
				r.exists = st
				return nil
			}
			mark := "no restore mark"
			if m := st.Metadata[RestoredFromKey]; m != "" {
				mark = fmt.Sprintf("restored by dcctl from another backup (archive sha256 %.12s…)", m)
			}
			return fmt.Errorf("stream %s exists in domain %q with %d messages (%d..%d), %s: it is not this backup's restore; delete it first if it should be replaced, or restore under another name (--as NAME), into another domain (--domain) or into another account (--account)",
				r.label, r.domain(), st.Msgs, st.FirstSeq, st.LastSeq, mark)
		}},
		{Name: fmt.Sprintf("noSubjectOverlap(%s, all domains)", r.ref.Account), Run: func(ctx context.Context) error {
			return r.noSubjectOverlap(ctx, e)
		}},
		{Name: fmt.Sprintf("enoughServers(%s)", r.domain()), Run: func(ctx context.Context) error {
			if r.exists != nil {
				return nil // restored by an earlier run
			}
			if len(r.Tags) > 0 {
				return enoughTaggedServers(e, r.domain(), r.Tags, &n).Run(ctx)
			}
			if len(r.backupTags) > 0 {
				// The backup's own placement decides where the restore can
				// land: without this, a stream placed in a DC that is lost (or
				// restored into another domain) is refused by the server
				// halfway, at the restore step.
				if err := enoughTaggedServers(e, r.domain(), r.backupTags, &n).Run(ctx); err != nil {
					return fmt.Errorf("the backed-up stream is placed on servers tagged %s, and a restore keeps its placement: %w; --tag TAG places the restore elsewhere",
						strings.Join(r.backupTags, " and "), err)
				}
				return nil
			}
			return enoughServers(e, r.domain(), &n).Run(ctx)
		}},
	}
}

// noSubjectOverlap looks at the target account's streams in every domain:
// an account is bridged across the leafnode links, so a stream in another
// domain whose subjects overlap would capture the same messages. Other
// accounts' subjects are theirs alone.
func (r *RestoreStream) noSubjectOverlap(ctx context.Context, e *Env) error {
	nc, err := e.natsIn(ctx, r.ref.Account)
	if err != nil {
		return err
	}
	var clashes []string
	for _, cl := range e.Inv.Clusters {
		list, err := nc.Streams(ctx, cl.Domain)
		if err != nil {
			return fmt.Errorf("cannot list the streams of domain %q to check for overlapping subjects: %w; bring its meta group back first", cl.Domain, err)
		}
		for _, st := range list.Streams {
			if cl.Domain == r.domain() && st.Name == r.stream() {
				continue
			}
			for _, a := range r.manifest.Subjects {
				for _, b := range st.Subjects {
					if subjectsCollide(a, b) {
						clashes = append(clashes, fmt.Sprintf("%s overlaps %s of stream %s in domain %q", a, b, e.label(refOf(st)), cl.Domain))
					}
				}
			}
		}
	}
	if len(clashes) > 0 {
		keeps := ""
		if r.renamed() {
			// --as renames the stream, not what it captures: beside the
			// backed-up stream itself it is always refused.
			keeps = " (a restore under --as keeps the backup's subjects: restore into another account with --account)"
		}
		return fmt.Errorf("%s: both streams would capture the same messages; remove or change the other stream first%s", strings.Join(clashes, "; "), keeps)
	}
	return nil
}

// RestoredFromKey is the stream metadata key restore-stream marks a stream
// it creates with: the sha256 of the backup's archive. Only a stream with
// this backup's mark is taken as an earlier run's restore.
const RestoredFromKey = "dcctl.restored-from"

func (r *RestoreStream) Steps(e *Env) []Step {
	n := r.replicas()
	first := n
	if n > 1 {
		first = 1 // one server takes in the archive, the others catch up
	}
	restore := fmt.Sprintf("restore(%s as R%d into %s)", r.label, first, r.domain())
	if backed := r.manifest.Replicas; first < backed {
		// Fewer copies than the backed-up stream had, if only until the
		// scale-up: a server lost meanwhile loses the data.
		restore = fmt.Sprintf("restore(%s as R%d into %s, fewer replicas than the backup's R%d)", r.label, first, r.domain(), backed)
	}
	steps := []Step{{
		Name:        restore,
		Destructive: true, // it creates a stream that captures live messages
		Done:        func(context.Context) (bool, error) { return r.exists != nil, nil },
		Run: func(ctx context.Context, progress func(string)) error {
			nc, err := e.natsIn(ctx, r.ref.Account)
			if err != nil {
				return err
			}
			progress(fmt.Sprintf("sending the %d-byte archive", r.manifest.ArchiveBytes))
			_, err = nc.Restore(ctx, r.domain(), r.From, jetstream.RestoreOptions{
				Replicas:      first,
				Metadata:      map[string]string{RestoredFromKey: r.manifest.ArchiveSHA256},
				PlacementTags: r.Tags,
				Name:          r.stream(),
			})
			return err
		},
	}}
	// The replica count the stream has before this step: the restore's, or
	// what an earlier run left.
	from := first
	if r.exists != nil {
		from = r.exists.Replicas
	}
	if from != n {
		name := fmt.Sprintf("setReplicas(%s, %d)", r.label, n)
		if n < from {
			name = fmt.Sprintf("setReplicas(%s, %d -> %d, fewer copies)", r.label, from, n)
		}
		steps = append(steps, Step{
			Name: name,
			// Lowering the replica count removes copies of the data.
			Destructive: n < from,
			Run: func(ctx context.Context, progress func(string)) error {
				nc, err := e.natsIn(ctx, r.ref.Account)
				if err != nil {
					return err
				}
				if err := nc.SetReplicas(ctx, r.domain(), r.stream(), n); err != nil {
					return err
				}
				return waitStreamCurrent(ctx, e, r.domain(), r.ref, n, progress)
			},
		})
	}
	return steps
}

func (r *RestoreStream) PostChecks(e *Env) []Check {
	checks := []Check{streamReplicasCurrent(e, r.domain(), &r.ref, r.replicas())}
	if tags := r.tags(); len(tags) > 0 {
		checks = append(checks, replicasCarryTags(e, r.domain(), &r.ref, tags))
	}
	return append(checks,
		// The restored stream captures live messages at once: the manifest's
		// range must be exactly there, anything after it is growth.
		streamDataIntact(e, r.domain(), &r.ref, &r.manifest.Baseline),
		Check{Name: fmt.Sprintf("consumersRestored(%s)", r.label), Run: func(ctx context.Context) error {
			nc, err := e.natsIn(ctx, r.ref.Account)
			if err != nil {
				return err
			}
			// settle: the digest's own ephemeral consumer is counted until
			// its deletion has gone through the meta group.
			return e.settle(ctx, func() error {
				st, err := nc.Stream(ctx, r.domain(), r.stream())
				if err != nil {
					return err
				}
				if st.Consumers != r.manifest.Consumers {
					return fmt.Errorf("stream %s has %d consumers, the backup had %d", r.label, st.Consumers, r.manifest.Consumers)
				}
				return nil
			})
		}},
	)
}
