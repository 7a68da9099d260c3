package runbooks

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testwait"
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
