package runbooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dcctl/dcctl/jetstream"
)

// Backup snapshots a file stream with its consumers into Dir and writes a
// manifest with its state and content digest, so that a restore can prove
// it is complete. Run by `dcctl backup`.
type Backup struct {
	Stream string
	Domain string
	// Account, when set, is the JetStream account the stream is looked up
	// in; otherwise whichever account has it (two that do are refused).
	Account string
	Dir     string

	ref    streamRef // the stream, its account found by the pre-checks
	state  jetstream.StreamState
	before jetstream.Baseline
}

func (r *Backup) Name() string { return "backup" }

// Describe is the runbook's entry in `dcctl runbook list`.
func (r *Backup) Describe() Description {
	return Description{
		Name: "backup", Command: "dcctl", Usage: "backup STREAM --domain D [--account A] --out DIR",
		Short: "snapshot a file stream with its consumers, and write a manifest with its state and digest",
		Pre:   []string{"the domain has a meta leader", "the stream exists, in one JetStream account (or the one --account names), and is file-backed (memory streams cannot be snapshotted)", "DIR holds no other backup", "baseline"},
		Steps: []string{"snapshot to DIR (with consumers)", "write dcctl-manifest.json beside it (it names the stream's account)"},
		Post:  []string{"the archive validates; the manifest matches the snapshot and the live state"},
	}
}

func (r *Backup) Target() string {
	return fmt.Sprintf("stream %s in domain %s to %s", jetstream.StreamRef(r.Account, r.Stream), r.Domain, r.Dir)
}

// Settle asserts some cluster serves Domain and Account is a JetStream
// account.
func (r *Backup) Settle(e *Env) error {
	r.ref = streamRef{r.Account, r.Stream}
	if err := knownAccount(e, r.Account); err != nil {
		return err
	}
	return knownDomain(e, r.Domain)
}

func (r *Backup) PreChecks(e *Env) []Check {
	return []Check{
		metaLeader(e, r.Domain),
		{Name: fmt.Sprintf("streamIsFileBacked(%s)", e.label(r.ref)), Run: func(ctx context.Context) error {
			st, err := findStream(ctx, e, r.Domain, r.Stream, r.Account)
			if err != nil {
				return err
			}
			r.state, r.ref = *st, refOf(*st)
			if st.Storage == "memory" {
				return fmt.Errorf("stream %s is a memory stream: %w", e.label(r.ref), jetstream.ErrMemoryStream)
			}
			return nil
		}},
		{Name: fmt.Sprintf("backupDirFree(%s)", r.Dir), Run: func(context.Context) error {
			if _, err := os.Stat(filepath.Join(r.Dir, ManifestFile)); err == nil {
				return fmt.Errorf("%s already holds a finished backup: choose another --out (backups are never overwritten)", r.Dir)
			}
			if info, err := jetstream.ReadSnapshot(r.Dir); err == nil && info.Stream != r.Stream {
				return fmt.Errorf("%s holds a snapshot of stream %s: choose another --out", r.Dir, info.Stream)
			}
			return nil
		}},
		recordBaseline(e, r.Domain, &r.ref, &r.before),
	}
}

func (r *Backup) Steps(e *Env) []Step {
	return []Step{
		{
			Name: fmt.Sprintf("snapshot(%s -> %s)", e.label(r.ref), r.Dir),
			// A snapshot left by an interrupted run is reused only if it is of
			// this stream; the post-checks prove it matches the baseline.
			Done: func(context.Context) (bool, error) {
				info, err := jetstream.ReadSnapshot(r.Dir)
				return err == nil && info.Stream == r.Stream, nil
			},
			Run: func(ctx context.Context, progress func(string)) error {
				nc, err := e.natsIn(ctx, r.ref.Account)
				if err != nil {
					return err
				}
				// The baseline's ephemeral consumer must be gone first, or
				// the snapshot would carry it.
				_ = e.settle(ctx, func() error {
					st, err := nc.Stream(ctx, r.Domain, r.Stream)
					if err == nil && st.Consumers > r.state.Consumers {
						return fmt.Errorf("%d consumers", st.Consumers)
					}
					return err
				})
				progress(fmt.Sprintf("snapshot of %d messages (%d bytes) with %d consumers", r.state.Msgs, r.state.Bytes, r.state.Consumers))
				_, err = nc.Snapshot(ctx, r.Domain, r.Stream, r.Dir)
				if errors.Is(err, jetstream.ErrMemoryStream) {
					return fmt.Errorf("stream %s: %w", e.label(r.ref), err)
				}
				return err
			},
		},
		{
			Name: fmt.Sprintf("writeManifest(%s)", filepath.Join(r.Dir, ManifestFile)),
			Run: func(context.Context, func(string)) error {
				info, err := jetstream.ReadSnapshot(r.Dir)
				if err != nil {
					return err
				}
				arc := filepath.Base(archivePath(r.Dir))
				sum, n, err := fileSHA256(filepath.Join(r.Dir, arc))
				if err != nil {
					return err
				}
				return writeManifest(r.Dir, &Manifest{
					Format: 1, Stream: r.Stream, Account: r.ref.Account, Domain: r.Domain, Created: time.Now().UTC(), DcctlVersion: e.Version,
					Subjects: info.Subjects, Storage: info.Storage, Replicas: info.Replicas, Consumers: info.Consumers,
					Baseline: r.before, Archive: arc, ArchiveSHA256: sum, ArchiveBytes: n,
				})
			},
		},
	}
}

func (r *Backup) PostChecks(e *Env) []Check {
	return []Check{
		{Name: fmt.Sprintf("backupValidates(%s)", r.Dir), Run: func(context.Context) error {
			m, _, err := ReadManifest(r.Dir)
			if err != nil {
				return fmt.Errorf("%w: the stream changed between the baseline and the snapshot if the counts differ; stop its publishers (or back up a mirror) and back up again to a new --out", err)
			}
			e.Journal.Baseline("manifest", e.label(r.ref), m.Baseline)
			return nil
		}},
		{Name: fmt.Sprintf("manifestMatchesLiveStream(%s)", e.label(r.ref)), Run: func(ctx context.Context) error {
			nc, err := e.natsIn(ctx, r.ref.Account)
			if err != nil {
				return err
			}
			st, err := nc.Stream(ctx, r.Domain, r.Stream)
			if err != nil {
				return err
			}
			if st.Msgs != r.before.Msgs || st.LastSeq != r.before.LastSeq || st.FirstSeq != r.before.FirstSeq {
				return fmt.Errorf("stream %s now has %d messages (%d..%d), the backup %d (%d..%d): it changed during the backup, so the backup is a consistent copy of an earlier state only",
					e.label(r.ref), st.Msgs, st.FirstSeq, st.LastSeq, r.before.Msgs, r.before.FirstSeq, r.before.LastSeq)
			}
			return nil
		}},
	}
}

// archivePath finds the snapshot's archive in dir (its name changed across
// jsm.go versions); "" when there is none.
func archivePath(dir string) string {
	for _, name := range []string{"stream.arc.s2", "stream.tar.s2"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	return ""
}
