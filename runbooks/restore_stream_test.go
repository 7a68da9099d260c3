package runbooks

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
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

	t.Run("restore under another name", func(t *testing.T) {
		wantRefused(t, l.run(&RestoreStream{From: dir, As: "us.copy"}), "is not a stream name")
		// The backed-up stream is there (restored above): a copy under
		// another name would capture its subjects too.
		wantRefused(t, l.run(&RestoreStream{From: dir, As: "us_copy"}), "keeps the backup's subjects")
		l.stream("us", njs.StreamConfig{Name: "taken", Subjects: []string{"elsewhere.>"}, Storage: njs.FileStorage, Replicas: 1}, 3)
		wantRefused(t, l.run(&RestoreStream{From: dir, As: "taken"}), "stream taken exists")
		if err := l.js("us").DeleteStream(ctx, "us"); err != nil {
			t.Fatal(err)
		}
		testwait.Eventually(t, time.Minute, "us deleted", func() error {
			if _, err := l.info("us", "us"); !errors.Is(err, njs.ErrStreamNotFound) {
				return fmt.Errorf("info: %v", err)
			}
			return nil
		})
		if err := l.run(&RestoreStream{From: dir, As: "us_copy", Replicas: 3}); err != nil {
			t.Fatal(err)
		}
		si, err := l.info("us", "us_copy")
		if err != nil {
			t.Fatal(err)
		}
		if si.State.Msgs != before.State.Msgs || si.State.FirstSeq != before.State.FirstSeq || si.State.LastSeq != before.State.LastSeq || si.Config.Replicas != 3 || si.State.Consumers != 2 {
			t.Fatalf("restored as us_copy: R%d, %d consumers, state %+v; backed up %+v", si.Config.Replicas, si.State.Consumers, si.State, before.State)
		}
		if _, err := l.info("us", "us"); !errors.Is(err, njs.ErrStreamNotFound) {
			t.Fatalf("the backup's own name was restored too: %v", err)
		}
		proven := false
		for _, e := range lastJournal(t, l, "restore-stream") {
			if e.Phase == "proof" && e.Name == "us_copy" && e.Proof != nil {
				proven = true
			}
		}
		if !proven {
			t.Fatal("the journal has no proof of us_copy's data")
		}
		// Again: the mark makes it this backup's restore, so the run converges.
		if err := l.run(&RestoreStream{From: dir, As: "us_copy", Replicas: 3}); err != nil {
			t.Fatal(err)
		}
		if !journalHas(t, l, "restore-stream", "step", "skipped") {
			t.Fatal("the second run did not skip the restore")
		}
	})

	t.Run("an archive older than nats-server v2.15 keeps its name", func(t *testing.T) {
		old := olderFormatBackup(t, dir)
		wantRefused(t, l.run(&RestoreStream{From: old, As: "us_old"}), "taken from nats-server older than v2.15")
		if _, err := l.info("us", "us_old"); !errors.Is(err, njs.ErrStreamNotFound) {
			t.Fatalf("a refused restore created the stream: %v", err)
		}
	})
}

// olderFormatBackup copies the backup in dir with its archive replaced by
// one in the format nats-server wrote before v2.15 (an s2-compressed tar),
// its manifest's sum updated to match: a backup dcctl took from an older
// server.
func olderFormatBackup(t *testing.T, dir string) string {
	t.Helper()
	m, _, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "older")
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatal(err)
	}
	var arc bytes.Buffer
	zw := s2.NewWriter(&arc)
	tw := tar.NewWriter(zw)
	meta := []byte(`{"name":"` + m.Stream + `"}`)
	if err := tw.WriteHeader(&tar.Header{Name: "meta.inf", Mode: 0o600, Size: int64(len(meta))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(meta); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == m.Archive {
			raw = arc.Bytes()
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256(arc.Bytes())
	m.ArchiveSHA256 = hex.EncodeToString(sum[:])
	m.ArchiveBytes = int64(arc.Len())
	if err := writeManifest(out, m); err != nil {
		t.Fatal(err)
	}
	return out
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
