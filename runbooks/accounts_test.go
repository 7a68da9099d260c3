package runbooks

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/jetstream"
)

// twoAccounts is one 4-node cluster (R3 streams keep a server free for a
// moved replica) with two JetStream accounts, neither named as the
// example's. The streams the tests act on are in TREASURY, the second by
// name: a runbook that reached the first account only would miss them.
func twoAccounts() testcluster.Spec {
	return testcluster.Spec{AppAccount: "SHOP", AppUser: "shop-app", SysAccount: "OPS", SysUser: "ops",
		MoreAccounts: []testcluster.AccountSpec{{Name: "TREASURY", User: "treasury-app"}},
		Clusters: []testcluster.ClusterSpec{{Name: "CORE", Domain: "core", Nodes: []testcluster.NodeSpec{
			{Name: "c-1", DC: "x"}, {Name: "c-2", DC: "x"}, {Name: "c-3", DC: "y"}, {Name: "c-4", DC: "y"}}}}}
}

// streamIn asks account's stream leader for its state, straight through
// nats.go.
func streamIn(t *testing.T, js njs.JetStream, name string) *njs.StreamInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	si, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return si
}

// TestRunbooksOnEveryAccount: two accounts each have a stream ORDERS, and
// one has streams the other lacks. A runbook given the name alone refuses
// to guess (exit 2, naming both accounts and --account), acts on the
// account --account names, finds a stream in the one account that has it,
// moves every account's replicas off a lost node and proves every
// account's streams.
func TestRunbooksOnEveryAccount(t *testing.T) {
	l := newLab(t, twoAccounts())
	shop, treasury := l.c.JetStreamAs(t, "core", "SHOP"), l.c.JetStreamAs(t, "core", "TREASURY")
	create := func(js njs.JetStream, name string, replicas, n int) {
		cfg := njs.StreamConfig{Name: name, Subjects: []string{strings.ToLower(name) + ".>"}, Storage: njs.FileStorage, Replicas: replicas}
		testcluster.CreateStream(t, js, cfg, testwait.Converge)
		testcluster.Publish(t, js, strings.ToLower(name), n)
	}
	create(shop, "ORDERS", 1, 10)
	create(treasury, "ORDERS", 1, 20)
	create(treasury, "ENTRIES", 3, 30)
	create(treasury, "AUDIT", 1, 5)

	t.Run("a name two accounts have is refused", func(t *testing.T) {
		for _, rb := range []Runbook{
			&ExpandStream{Stream: "ORDERS", Domain: "core", Replicas: 3},
			&Backup{Stream: "ORDERS", Domain: "core", Dir: filepath.Join(t.TempDir(), "b")},
		} {
			err := l.run(rb)
			wantRefused(t, err, "accounts SHOP and TREASURY each have a stream ORDERS")
			wantRefused(t, err, "--account SHOP or --account TREASURY")
		}
		if r := streamIn(t, shop, "ORDERS").Config.Replicas + streamIn(t, treasury, "ORDERS").Config.Replicas; r != 2 {
			t.Fatalf("a refused run changed a stream: replicas %d in all, want 1 + 1", r)
		}
	})

	t.Run("--account picks the stream", func(t *testing.T) {
		if err := l.run(&ExpandStream{Stream: "ORDERS", Domain: "core", Account: "TREASURY", Replicas: 3}); err != nil {
			t.Fatal(err)
		}
		if got, other := streamIn(t, treasury, "ORDERS"), streamIn(t, shop, "ORDERS"); got.Config.Replicas != 3 || got.State.Msgs != 20 || other.Config.Replicas != 1 {
			t.Fatalf("TREASURY/ORDERS R%d with %d messages, SHOP/ORDERS R%d: want TREASURY's expanded to R3, SHOP's untouched", got.Config.Replicas, got.State.Msgs, other.Config.Replicas)
		}
		p := proofs(t, l, "expand-stream")["TREASURY/ORDERS"]
		if p == nil || p.Account != "TREASURY" || p.Verified != 20 {
			t.Fatalf("proof of TREASURY/ORDERS: %+v, want 20 messages verified", p)
		}
	})

	t.Run("--account restricts the search", func(t *testing.T) {
		wantRefused(t, l.run(&ExpandStream{Stream: "AUDIT", Domain: "core", Account: "SHOP", Replicas: 3}), "no stream AUDIT in account SHOP")
		wantRefused(t, l.run(&ExpandStream{Stream: "AUDIT", Domain: "core", Account: "NOPE"}), `no JetStream account "NOPE"`)
	})

	t.Run("a stream of the second account is found", func(t *testing.T) {
		if err := l.run(&ExpandStream{Stream: "AUDIT", Domain: "core", Replicas: 3}); err != nil {
			t.Fatal(err)
		}
		if si := streamIn(t, treasury, "AUDIT"); si.Config.Replicas != 3 || si.State.Msgs != 5 {
			t.Fatalf("TREASURY/AUDIT R%d with %d messages, want R3 with 5", si.Config.Replicas, si.State.Msgs)
		}
	})

	t.Run("backup and restore in the stream's account", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "treasury-orders")
		if err := l.run(&Backup{Stream: "ORDERS", Domain: "core", Account: "TREASURY", Dir: dir}); err != nil {
			t.Fatal(err)
		}
		m, _, err := ReadManifest(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m.Account != "TREASURY" || m.Baseline.Msgs != 20 {
			t.Fatalf("manifest of account %q with %d messages, want TREASURY with 20", m.Account, m.Baseline.Msgs)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := treasury.DeleteStream(ctx, "ORDERS"); err != nil {
			t.Fatal(err)
		}
		// SHOP/ORDERS is still there: the name is free in TREASURY only.
		if err := l.run(&RestoreStream{From: dir, Replicas: 3}); err != nil {
			t.Fatal(err)
		}
		if got, other := streamIn(t, treasury, "ORDERS"), streamIn(t, shop, "ORDERS"); got.State.Msgs != 20 || other.State.Msgs != 10 {
			t.Fatalf("after the restore TREASURY/ORDERS has %d messages, SHOP/ORDERS %d: want 20 and 10", got.State.Msgs, other.State.Msgs)
		}
		if p := proofs(t, l, "restore-stream")["TREASURY/ORDERS"]; p == nil || p.Verified != 20 {
			t.Fatalf("proof of the restored TREASURY/ORDERS: %+v", p)
		}
	})

	t.Run("replace-peer moves the replicas of every account", func(t *testing.T) {
		// A replica of TREASURY/ENTRIES, not the meta leader (no election
		// slows the test), not the server of the R1 stream SHOP/ORDERS
		// (its only copy would be refused).
		entries := streamIn(t, treasury, "ENTRIES")
		holders := []string{entries.Cluster.Leader}
		for _, r := range entries.Cluster.Replicas {
			holders = append(holders, r.Name)
		}
		r1 := streamIn(t, shop, "ORDERS").Cluster.Leader
		leader := l.c.WaitMetaLeader("core", testwait.Converge)
		var victim string
		for _, h := range holders {
			if h != r1 && h != leader {
				victim = h
			}
		}
		if victim == "" {
			t.Fatalf("no replica of ENTRIES (%v) to lose besides the meta leader %s and %s", holders, leader, r1)
		}
		l.c.Stop(victim)
		if err := l.run(&ReplacePeer{Node: victim}); err != nil {
			t.Fatal(err)
		}
		testwait.Eventually(t, time.Minute, "TREASURY/ENTRIES off "+victim, func() error {
			si := streamIn(t, treasury, "ENTRIES")
			peers := []string{si.Cluster.Leader}
			for _, r := range si.Cluster.Replicas {
				if !r.Current || r.Offline {
					return fmt.Errorf("replica %s not current", r.Name)
				}
				peers = append(peers, r.Name)
			}
			if len(peers) != 3 || slices.Contains(peers, victim) || si.State.Msgs != 30 {
				return fmt.Errorf("replicas %v with %d messages", peers, si.State.Msgs)
			}
			return nil
		})
		if p := proofs(t, l, "replace-peer")["TREASURY/ENTRIES"]; p == nil || p.Kind != jetstream.ProofRange || p.Verified != 30 {
			t.Fatalf("proof of TREASURY/ENTRIES: %+v", p)
		}

		// restore-node proves every account's streams not behind.
		if err := l.run(&RestoreNode{Node: victim}); err != nil {
			t.Fatal(err)
		}
		got := proofs(t, l, "restore-node")
		for _, s := range []string{"SHOP/ORDERS", "TREASURY/ORDERS", "TREASURY/ENTRIES", "TREASURY/AUDIT"} {
			if got[s] == nil || got[s].Kind != jetstream.ProofLastSeq {
				t.Errorf("restore-node proved no stream %s (proofs: %v)", s, slices.Sorted(maps.Keys(got)))
			}
		}
	})
}
