package runbooks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
)

// spec is the example's backbone and one leaf cluster: enough for every
// runbook, and quicker to start than the whole example.
func spec() testcluster.Spec {
	s := testcluster.Seed()
	s.Clusters = s.Clusters[:len(s.Clusters)-1] // BB, US
	return s
}

// TestExpandStreamSettles: the checks name the domain and the stream; a
// domain no cluster serves refuses as the target.
func TestExpandStreamSettles(t *testing.T) {
	names, err := settledChecks(t, &ExpandStream{Stream: "orders", Domain: "hub", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	wantChecks(t, names, "metaLeader(hub)", "streamFewerReplicasThan(orders, 3)", "enoughServers(hub)", "enoughServersForItsPlacement(orders)", "baseline(orders)")
	if _, err := settledChecks(t, &ExpandStream{Stream: "orders", Domain: "emea"}); err == nil || !strings.Contains(err.Error(), `domain "emea"`) {
		t.Errorf("unknown domain: %v", err)
	}
}

func TestExpandStream(t *testing.T) {
	l := newLab(t, spec())
	l.stream("us", njs.StreamConfig{Name: "orders", Subjects: []string{"orders.>"}, Storage: njs.FileStorage, Replicas: 1}, 300)

	t.Run("more replicas than servers is refused", func(t *testing.T) {
		err := l.run(&ExpandStream{Stream: "orders", Domain: "us", Replicas: 4})
		wantRefused(t, err, "target: --replicas 4: cluster US")
		wantRefused(t, err, "has 3 non-standby nodes (us_1, us_2, us_3)")
		si, err := l.info("us", "orders")
		if err != nil {
			t.Fatal(err)
		}
		if si.Config.Replicas != 1 {
			t.Fatalf("refused run changed the stream to R%d", si.Config.Replicas)
		}
	})

	// A stream placed on one DC's servers (tag dc:us, 2 of the hub's 4)
	// keeps that placement without --tag: R3 cannot fit, and the run is
	// refused before any step, not failed at the update with JetStream's
	// "no suitable peers for placement" (an outside audit's R1 stream
	// pinned to a 3-DC backbone's one node of a DC).
	t.Run("more replicas than its placement's servers is refused", func(t *testing.T) {
		l.stream("hub", njs.StreamConfig{Name: "pinned", Subjects: []string{"pinned.>"}, Storage: njs.FileStorage, Replicas: 1,
			Placement: &njs.Placement{Tags: []string{"dc:us"}}}, 10)
		err := l.run(&ExpandStream{Stream: "pinned", Domain: "hub", Replicas: 3})
		wantRefused(t, err, "stream pinned is placed on servers tagged dc:us (its placement, kept without --tag)")
		wantRefused(t, err, "2 online servers (bb_us_1, bb_us_2) tagged dc:us, and 3 replicas need 3")
		si, err := l.info("hub", "pinned")
		if err != nil {
			t.Fatal(err)
		}
		if si.Config.Replicas != 1 {
			t.Fatalf("refused run changed the stream to R%d", si.Config.Replicas)
		}
	})

	t.Run("dry run changes nothing", func(t *testing.T) {
		if err := l.run(&ExpandStream{Stream: "orders", Domain: "us"}, func(e *Env) { e.DryRun = true }); err != nil {
			t.Fatal(err)
		}
		si, err := l.info("us", "orders")
		if err != nil {
			t.Fatal(err)
		}
		if si.Config.Replicas != 1 {
			t.Fatalf("dry run changed the stream to R%d", si.Config.Replicas)
		}
	})

	t.Run("R1 to R3", func(t *testing.T) {
		before, err := l.info("us", "orders")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.run(&ExpandStream{Stream: "orders", Domain: "us", Replicas: 3}); err != nil {
			t.Fatal(err)
		}
		// Independently of the runbook's own checks: the leader reports three
		// replicas, both followers current, and the same counters as before.
		si, err := l.info("us", "orders")
		if err != nil {
			t.Fatal(err)
		}
		if si.Config.Replicas != 3 || si.Cluster == nil || len(si.Cluster.Replicas) != 2 {
			t.Fatalf("after expand: config R%d, cluster %+v", si.Config.Replicas, si.Cluster)
		}
		for _, r := range si.Cluster.Replicas {
			if !r.Current || r.Offline {
				t.Errorf("replica %s current=%v offline=%v", r.Name, r.Current, r.Offline)
			}
		}
		if si.State.Msgs != before.State.Msgs || si.State.LastSeq != before.State.LastSeq || si.State.Bytes != before.State.Bytes {
			t.Fatalf("state changed: before %+v, after %+v", before.State, si.State)
		}
		// Every server of the cluster holds the messages: ask each one's own
		// JetStream account details (jsz) in-process.
		for _, n := range []string{"us_1", "us_2", "us_3"} {
			testwait.Eventually(t, time.Minute, n+" holds orders", func() error {
				return serverHolds(l, n, "orders", before.State.Msgs, before.State.LastSeq)
			})
		}
	})

	t.Run("run again converges", func(t *testing.T) {
		if err := l.run(&ExpandStream{Stream: "orders", Domain: "us", Replicas: 3}); err != nil {
			t.Fatal(err)
		}
		ents := lastJournal(t, l, "expand-stream")
		var skipped bool
		for _, e := range ents {
			if e.Phase == "step" && e.Result == "skipped" {
				skipped = true
			}
		}
		if !skipped {
			t.Fatalf("second run did not skip the done step: %+v", ents)
		}
	})
}

// serverHolds asks one in-process server's jsz for the stream's state there.
func serverHolds(l *lab, node, stream string, msgs, last uint64) error {
	s := l.c.Server(node)
	if s == nil {
		return fmt.Errorf("%s is not running", node)
	}
	jsz, err := s.Jsz(&server.JSzOptions{Accounts: true, Streams: true})
	if err != nil {
		return err
	}
	for _, acc := range jsz.AccountDetails {
		for _, sd := range acc.Streams {
			if sd.Name != stream {
				continue
			}
			if sd.State.Msgs != msgs || sd.State.LastSeq != last {
				return fmt.Errorf("%s has %d messages up to %d, want %d up to %d", node, sd.State.Msgs, sd.State.LastSeq, msgs, last)
			}
			return nil
		}
	}
	return fmt.Errorf("%s holds no replica of %s", node, stream)
}

// lastJournal reads the newest journal of runbook beside the inventory, and
// checks that no password made it into it.
func lastJournal(t *testing.T, l *lab, runbook string) []Entry {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(l.c.Inv.Dir, ".dcctl", "journal", "*-"+runbook+".jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no journal of %s: %v", runbook, err)
	}
	path := files[len(files)-1]
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range l.c.Secrets.Values() {
		if strings.Contains(string(raw), pw) {
			t.Fatalf("journal %s holds a password", path)
		}
	}
	ents, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	return ents
}
