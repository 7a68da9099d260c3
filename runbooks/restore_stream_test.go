package runbooks

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/jetstream"
)

func TestBackupRestore(t *testing.T) {
	l := newLab(t, spec())
	l.stream("us", njs.StreamConfig{Name: "us", Subjects: []string{"us.>"}, Storage: njs.FileStorage, Replicas: 3}, 250)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, name := range []string{"billing", "audit"} {
		if _, err := l.js("us").CreateOrUpdateConsumer(ctx, "us", njs.ConsumerConfig{Durable: name, AckPolicy: njs.AckExplicitPolicy}); err != nil {
			t.Fatal(err)
		}
	}
	l.stream("hub", njs.StreamConfig{Name: "scratch", Subjects: []string{"scratch.>"}, Storage: njs.MemoryStorage, Replicas: 1}, 10)
	dir := filepath.Join(t.TempDir(), "us-backup")

	t.Run("memory stream is refused", func(t *testing.T) {
		err := l.run(&Backup{Stream: "scratch", Domain: "hub", Dir: filepath.Join(t.TempDir(), "b")})
		wantRefused(t, err, "memory streams cannot be snapshotted")
	})

	before, err := l.info("us", "us")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("backup", func(t *testing.T) {
		if err := l.run(&Backup{Stream: "us", Domain: "us", Dir: dir}); err != nil {
			t.Fatal(err)
		}
		m, _, err := ReadManifest(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m.Baseline.Msgs != 250 || m.Consumers != 2 || m.Domain != "us" || m.DcctlVersion != "test" || m.Baseline.Digest == "" {
			t.Fatalf("manifest %+v", m)
		}
		// A second backup into the same directory is refused: backups are never overwritten.
		wantRefused(t, l.run(&Backup{Stream: "us", Domain: "us", Dir: dir}), "already holds a finished backup")
	})

	t.Run("restore settles on the backup's stream and domain", func(t *testing.T) {
		names, err := settledChecks(t, &RestoreStream{From: dir})
		if err != nil {
			t.Fatal(err)
		}
		wantChecks(t, names, "metaLeader(us)", "streamNameFree(us)", "enoughServers(us)")
		if _, err := settledChecks(t, &RestoreStream{From: dir, Domain: "emea"}); err == nil || !strings.Contains(err.Error(), `domain "emea"`) {
			t.Errorf("restore into a domain no cluster serves: %v", err)
		}
	})

	t.Run("restore over the existing stream is refused", func(t *testing.T) {
		l.publish("us", "us.>", 1) // now it differs from the backup
		wantRefused(t, l.run(&RestoreStream{From: dir}), "exists in domain")
	})

	t.Run("restore over overlapping subjects is refused", func(t *testing.T) {
		if err := l.js("us").DeleteStream(ctx, "us"); err != nil {
			t.Fatal(err)
		}
		l.stream("hub", njs.StreamConfig{Name: "shadow", Subjects: []string{"us.orders.*"}, Storage: njs.FileStorage, Replicas: 1}, 0)
		wantRefused(t, l.run(&RestoreStream{From: dir}), "overlaps")
		if _, err := l.info("us", "us"); err == nil {
			t.Fatal("refused restore created the stream")
		}
		if err := l.js("hub").DeleteStream(ctx, "shadow"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("restore", func(t *testing.T) {
		if err := l.run(&RestoreStream{From: dir, Replicas: 3}); err != nil {
			t.Fatal(err)
		}
		si, err := l.info("us", "us")
		if err != nil {
			t.Fatal(err)
		}
		if si.State.Msgs != before.State.Msgs || si.State.LastSeq != before.State.LastSeq || si.State.FirstSeq != before.State.FirstSeq || si.State.Bytes != before.State.Bytes {
			t.Fatalf("restored state %+v, backed up %+v", si.State, before.State)
		}
		if si.Config.Replicas != 3 || si.State.Consumers != 2 {
			t.Fatalf("restored R%d with %d consumers", si.Config.Replicas, si.State.Consumers)
		}
		for _, name := range []string{"billing", "audit"} {
			if _, err := l.js("us").Consumer(ctx, "us", name); err != nil {
				t.Errorf("consumer %s not restored: %v", name, err)
			}
		}
		// Run again after clients published to the restored stream: it is
		// this backup's restore (its mark says so), so the run converges and
		// the post-check allows the growth.
		l.publish("us", "us.>", 5)
		if err := l.run(&RestoreStream{From: dir, Replicas: 3}); err != nil {
			t.Fatal(err)
		}
		if !journalHas(t, l, "restore-stream", "step", "skipped") {
			t.Fatal("the second run did not skip the restore")
		}
	})

	t.Run("a stream dcctl did not restore is never taken as restored", func(t *testing.T) {
		// The same data, restored by hand (no mark): refused, not adopted.
		if err := l.js("us").DeleteStream(ctx, "us"); err != nil {
			t.Fatal(err)
		}
		nc, err := l.s.NATS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Restore(ctx, "us", dir, jetstream.RestoreOptions{}); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, l.run(&RestoreStream{From: dir}), "no restore mark")
		if err := l.js("us").DeleteStream(ctx, "us"); err != nil {
			t.Fatal(err)
		}
		testwait.Eventually(t, time.Minute, "us deleted", func() error {
			if _, err := l.info("us", "us"); !errors.Is(err, njs.ErrStreamNotFound) {
				return fmt.Errorf("info: %v", err)
			}
			return nil
		})
	})

	t.Run("fewer replicas than the backup is confirmed", func(t *testing.T) {
		var asked string
		refuse := func(e *Env) {
			e.Confirm = func(q string) error { asked = q; return errors.New("no") }
		}
		wantRefused(t, l.run(&RestoreStream{From: dir, Replicas: 1}, refuse), "confirmation")
		if !strings.Contains(asked, "fewer replicas than the backup's R3") {
			t.Fatalf("confirmation %q does not say the stream gets fewer replicas", asked)
		}
		if _, err := l.info("us", "us"); err == nil {
			t.Fatal("a refused restore created the stream")
		}
		// Restored at R3, then lowered to R1 by a second run: asked first.
		if err := l.run(&RestoreStream{From: dir, Replicas: 3}); err != nil {
			t.Fatal(err)
		}
		asked = ""
		wantRefused(t, l.run(&RestoreStream{From: dir, Replicas: 1}, refuse), "confirmation")
		if !strings.Contains(asked, "setReplicas(us, 3 -> 1, fewer copies)") {
			t.Fatalf("confirmation %q does not name the lowering", asked)
		}
		if si, err := l.info("us", "us"); err != nil || si.Config.Replicas != 3 {
			t.Fatalf("a refused run changed the replicas: %v %v", si, err)
		}
		if err := l.run(&RestoreStream{From: dir, Replicas: 1}); err != nil {
			t.Fatal(err)
		}
		if si, err := l.info("us", "us"); err != nil || si.Config.Replicas != 1 {
			t.Fatalf("after --replicas 1: %v %v", si, err)
		}
	})
}

// journalHas reports whether the newest journal of runbook has an entry of
// phase with result.
func journalHas(t *testing.T, l *lab, runbook, phase, result string) bool {
	t.Helper()
	for _, e := range lastJournal(t, l, runbook) {
		if e.Phase == phase && e.Result == result {
			return true
		}
	}
	return false
}
