package runbooks

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
)

// TestPlacementByTag: expand-stream and restore-stream place every replica
// on servers carrying the given tags; every node carries dc:<its dc>. A
// 5-node backbone, 3 nodes in one DC and 2 in the other, other names than
// the example's.
func TestPlacementByTag(t *testing.T) {
	s := testcluster.Other()
	s.Clusters = s.Clusters[:1]
	hub := s.Clusters[0]
	near, far := hub.Nodes[0].DC, hub.Nodes[len(hub.Nodes)-1].DC
	l := newLab(t, s)
	d := hub.Domain
	l.stream(d, njs.StreamConfig{Name: "ledger", Subjects: []string{"ledger.>"}, Storage: njs.FileStorage, Replicas: 1}, 120)

	// inDC asserts every replica of stream is on a server of dc, as the
	// stream leader reports them.
	inDC := func(t *testing.T, stream, dc string, n int) {
		t.Helper()
		si, err := l.info(d, stream)
		if err != nil {
			t.Fatal(err)
		}
		peers := []string{si.Cluster.Leader}
		for _, r := range si.Cluster.Replicas {
			peers = append(peers, r.Name)
		}
		if len(peers) != n || si.Config.Replicas != n {
			t.Fatalf("stream %s: R%d with replicas %v, want %d", stream, si.Config.Replicas, peers, n)
		}
		for _, p := range peers {
			if l.c.Inv.Node(p).DC != dc {
				t.Errorf("stream %s has a replica on %s (dc %s), want every one in %s", stream, p, l.c.Inv.Node(p).DC, dc)
			}
		}
		if si.State.Msgs != 120 {
			t.Errorf("stream %s holds %d messages, want 120", stream, si.State.Msgs)
		}
	}

	t.Run("more replicas than tagged servers is refused", func(t *testing.T) {
		err := l.run(&ExpandStream{Stream: "ledger", Domain: d, Replicas: 3, Tags: []string{"dc:" + far}})
		wantRefused(t, err, "target: --replicas 3")
		wantRefused(t, err, "tagged dc:"+far)
	})
	t.Run("an unknown tag is refused, naming the known ones", func(t *testing.T) {
		wantRefused(t, l.run(&ExpandStream{Stream: "ledger", Domain: d, Replicas: 2, Tags: []string{"dc:nowhere"}}), "dc:"+near)
	})
	t.Run("expand into the far DC", func(t *testing.T) {
		if err := l.run(&ExpandStream{Stream: "ledger", Domain: d, Replicas: 2, Tags: []string{"DC:" + far}}); err != nil {
			t.Fatal(err)
		}
		inDC(t, "ledger", far, 2)
	})

	dir := filepath.Join(t.TempDir(), "ledger-backup")
	if err := l.run(&Backup{Stream: "ledger", Domain: d, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.js(d).DeleteStream(ctx, "ledger"); err != nil {
		t.Fatal(err)
	}
	t.Run("the backup's own placement is checked before the restore", func(t *testing.T) {
		// The backup was placed by dc:far, which has 2 servers: 3 replicas
		// there are refused before anything is created, naming the way out.
		err := l.run(&RestoreStream{From: dir, Replicas: 3})
		wantRefused(t, err, "a restore keeps its placement")
		wantRefused(t, err, "has 2 online servers (")
		wantRefused(t, err, "and 3 replicas need 3")
		wantRefused(t, err, "--tag TAG places the restore elsewhere")
		if _, err := l.info(d, "ledger"); err == nil {
			t.Fatal("the refused restore created stream ledger")
		}
	})
	t.Run("restore into the near DC", func(t *testing.T) {
		if err := l.run(&RestoreStream{From: dir, Replicas: 3, Tags: []string{"dc:" + near}}); err != nil {
			t.Fatal(err)
		}
		inDC(t, "ledger", near, 3)
	})
}
