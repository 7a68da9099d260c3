package runbooks

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"
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
		// Run again: the stream is this backup, so the run converges.
		if err := l.run(&RestoreStream{From: dir, Replicas: 3}); err != nil {
			t.Fatal(err)
		}
	})
}
