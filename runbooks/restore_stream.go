package runbooks

import (
	"context"
	"fmt"
	"strings"

	"github.com/dcctl/dcctl/jetstream"
)

// RestoreStream recreates a stream from a dcctl backup and proves it holds
// exactly what the manifest says. With more than one replica it restores
// R1 and then scales up, so that one server takes the upload and the others
// catch up over the cluster's routes.
type RestoreStream struct {
	From     string
	Domain   string // default: the manifest's source domain
	Replicas int    // default: the manifest's replica count

	manifest *Manifest
	// exists is set when the stream is already there and equals the
	// manifest: an earlier run restored it, the restore step is done.
	exists *jetstream.StreamState
}

func (r *RestoreStream) Name() string { return "restore-stream" }

func (r *RestoreStream) Target() string {
	if r.manifest != nil {
		return fmt.Sprintf("stream %s from %s to domain %s as R%d", r.manifest.Stream, r.From, r.domain(), r.replicas())
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

func (r *RestoreStream) stream() string { return r.manifest.Stream }

func (r *RestoreStream) PreChecks(e *Env) []Check {
	n := 0
	return []Check{
		{Name: fmt.Sprintf("backupValidates(%s)", r.From), Run: func(context.Context) error {
			m, _, err := ReadManifest(r.From)
			if err != nil {
				return err
			}
			r.manifest = m
			n = r.replicas()
			e.Journal.Baseline("manifest", m.Baseline)
			return nil
		}},
		{Name: "inventoryHasDomain(target)", Run: func(ctx context.Context) error {
			return inventoryHasDomain(e, r.domain()).Run(ctx)
		}},
		{Name: "metaLeader(target)", Run: func(ctx context.Context) error {
			return metaLeader(e, r.domain()).Run(ctx)
		}},
		{Name: "streamNameFree(target)", Run: func(ctx context.Context) error {
			nc, err := e.nats(ctx)
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
			// Converge: a stream that already holds exactly the backup is an
			// earlier run's restore. Anything else is someone's data.
			b, derr := nc.Digest(ctx, r.domain(), r.stream())
			if derr == nil && r.manifest.Baseline.Equal(b) == nil {
				r.exists = st
				return nil
			}
			return fmt.Errorf("stream %s exists in domain %q with %d messages (%d..%d) and is not this backup: delete it first if it should be replaced, or restore into another domain with --domain",
				r.stream(), r.domain(), st.Msgs, st.FirstSeq, st.LastSeq)
		}},
		{Name: "noSubjectOverlap(all domains)", Run: func(ctx context.Context) error {
			return r.noSubjectOverlap(ctx, e)
		}},
		{Name: "enoughServers(target)", Run: func(ctx context.Context) error {
			if r.exists != nil {
				return nil // restored by an earlier run
			}
			return enoughServers(e, r.domain(), &n).Run(ctx)
		}},
	}
}

// noSubjectOverlap looks at every domain: the application account is
// bridged across the leafnode links, so a stream in another domain whose
// subjects overlap would capture the same messages.
func (r *RestoreStream) noSubjectOverlap(ctx context.Context, e *Env) error {
	nc, err := e.nats(ctx)
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
						clashes = append(clashes, fmt.Sprintf("%s overlaps %s of stream %s in domain %q", a, b, st.Name, cl.Domain))
					}
				}
			}
		}
	}
	if len(clashes) > 0 {
		return fmt.Errorf("%s: both streams would capture the same messages; remove or change the other stream first", strings.Join(clashes, "; "))
	}
	return nil
}

func (r *RestoreStream) Steps(e *Env) []Step {
	n := r.replicas()
	first := n
	if n > 1 {
		first = 1
	}
	steps := []Step{{
		Name:        fmt.Sprintf("restore(%s as R%d into %s)", r.stream(), first, r.domain()),
		Destructive: true, // it creates a stream that captures live messages
		Done:        func(context.Context) (bool, error) { return r.exists != nil, nil },
		Run: func(ctx context.Context, progress func(string)) error {
			nc, err := e.nats(ctx)
			if err != nil {
				return err
			}
			progress(fmt.Sprintf("uploading %d bytes", r.manifest.ArchiveBytes))
			_, err = nc.Restore(ctx, r.domain(), r.From, jetstream.RestoreOptions{Replicas: first})
			return err
		},
	}}
	if n > 1 {
		steps = append(steps, Step{
			Name: fmt.Sprintf("setReplicas(%s, %d)", r.stream(), n),
			Done: func(context.Context) (bool, error) { return r.exists != nil && r.exists.Replicas == n, nil },
			Run: func(ctx context.Context, progress func(string)) error {
				nc, err := e.nats(ctx)
				if err != nil {
					return err
				}
				if err := nc.SetReplicas(ctx, r.domain(), r.stream(), n); err != nil {
					return err
				}
				return waitStreamCurrent(ctx, e, r.domain(), r.stream(), n, progress)
			},
		})
	}
	return steps
}

func (r *RestoreStream) PostChecks(e *Env) []Check {
	return []Check{
		streamReplicasCurrent(e, r.domain(), r.stream(), r.replicas()),
		streamDataEquals(e, r.domain(), r.stream(), &r.manifest.Baseline, "manifest"),
		{Name: fmt.Sprintf("consumersRestored(%s)", r.stream()), Run: func(ctx context.Context) error {
			nc, err := e.nats(ctx)
			if err != nil {
				return err
			}
			// settle: the digest's own ephemeral consumer is counted until
			// its deletion has gone through the meta group.
			return settle(ctx, func() error {
				st, err := nc.Stream(ctx, r.domain(), r.stream())
				if err != nil {
					return err
				}
				if st.Consumers != r.manifest.Consumers {
					return fmt.Errorf("stream %s has %d consumers, the backup had %d", r.stream(), st.Consumers, r.manifest.Consumers)
				}
				return nil
			})
		}},
	}
}
