package runbooks

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
)

// TestRollingRestartSettles: the checks name each cluster's domain and
// nodes; an unknown cluster refuses as the target, naming the clusters.
func TestRollingRestartSettles(t *testing.T) {
	names, err := settledChecks(t, &RollingRestart{Cluster: "US"})
	if err != nil {
		t.Fatal(err)
	}
	wantChecks(t, names, "metaLeader(us)", "lastSequences(us)", "unitActive(us_1)", "unitActive(us_3)", "restartOrder(US)")
	if slices.Contains(names, "metaLeader(hub)") {
		t.Errorf("a restart of US checks the backbone: %v", names)
	}
	if _, err := settledChecks(t, &RollingRestart{Cluster: "EU"}); err == nil || !strings.Contains(err.Error(), `no cluster "EU"`) || !strings.Contains(err.Error(), "BB, US") {
		t.Errorf("unknown cluster: %v", err)
	}
}

// TestRollingRestart: every node of the cluster restarts once, the meta
// leader last, and the stream keeps its messages and replicas. The
// leadership is first moved to the node that comes first by name, so that
// an order by name would fail.
func TestRollingRestart(t *testing.T) {
	l := newLab(t, spec())
	l.stream("us", njs.StreamConfig{Name: "us", Subjects: []string{"us.>"}, Storage: njs.FileStorage, Replicas: 3}, 100)
	const leader = "us_1"
	testwait.Eventually(t, time.Minute, "meta leader of us moved to "+leader, func() error {
		if l.c.MetaLeader("us") == leader {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		nc, err := l.s.NATS(ctx)
		if err != nil {
			return err
		}
		return nc.MetaStepDown(ctx, "us", leader)
	})
	before := map[string]*server.Server{}
	for _, n := range []string{"us_1", "us_2", "us_3"} {
		before[n] = l.c.Server(n)
	}
	if err := l.run(&RollingRestart{Cluster: "US"}, func(e *Env) { e.Confirm = func(string) error { return nil } }); err != nil {
		t.Fatal(err)
	}
	for n, old := range before {
		// testcluster starts a new server object for every start.
		if s := l.c.Server(n); s == nil || s == old {
			t.Errorf("%s was not restarted", n)
		}
	}
	want := []string{"restart us_2", "restart us_3", "restart " + leader}
	if got := l.hosts.Calls(); !slices.Equal(got, want) {
		t.Fatalf("unit calls %v, want %v: one restart each, the meta leader last", got, want)
	}
	si, err := l.info("us", "us")
	if err != nil {
		t.Fatal(err)
	}
	if si.State.Msgs != 100 || len(si.Cluster.Replicas) != 2 {
		t.Fatalf("us after the restart: %+v %+v", si.State, si.Cluster)
	}
}

// TestRestartsRefusedForTwoNodeCluster: rolling-restart and upgrade refuse a
// cluster of two in a pre-check (exit 2, nothing touched), before asking any
// server: none of its nodes can go down behind the gate. No server runs here.
func TestRestartsRefusedForTwoNodeCluster(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "SHOP", AppUser: "till", SysAccount: "OPS", SysUser: "oncall",
		Clusters: []testcluster.ClusterSpec{{Name: "PAIR", Domain: "pair", Nodes: []testcluster.NodeSpec{{Name: "p-1", DC: "x"}, {Name: "p-2", DC: "x"}}}}}
	inv, err := inventory.Load(testcluster.WriteInventory(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	s := provision.NewSession(inv, &inventory.Secrets{}, provision.SessionOptions{Direct: true})
	defer s.Close()
	for _, rb := range []Runbook{&RollingRestart{}, &Upgrade{Rollback: true}} {
		var out strings.Builder
		e := &Env{Inv: inv, Session: s, Out: &out, DryRun: true}
		err := Run(t.Context(), e, rb)
		var r *RefusedError
		if !errors.As(err, &r) || r.Check != "restartable(PAIR)" || !strings.Contains(err.Error(), "cluster PAIR has 2 nodes") {
			t.Errorf("%s: %v, want a refusal by restartable(PAIR)\n%s", rb.Name(), err, out.String())
		}
	}
}

// TestRollingRestartHubsFirst: restarting every cluster goes through hubs
// before their leaves even when the inventory lists a leaf first.
func TestRollingRestartHubsFirst(t *testing.T) {
	inv := &inventory.Inventory{Clusters: []*inventory.Cluster{{Name: "EDGE", LeafOf: "CORE"}, {Name: "CORE"}, {Name: "EDGE2", LeafOf: "CORE"}}}
	var got []string
	for _, cl := range (&RollingRestart{}).clusters(&Env{Inv: inv}) {
		got = append(got, cl.Name)
	}
	if strings.Join(got, " ") != "CORE EDGE EDGE2" {
		t.Fatalf("rolling-restart order %v, want the hub CORE first, then its leaves in the inventory's order", got)
	}
}
