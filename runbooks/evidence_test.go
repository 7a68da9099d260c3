package runbooks

import (
	"context"
	"slices"
	"strings"
	"testing"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
)

// cutHosts is processHosts seen from one side of a cut between DCs: the
// hosts of the far DC cannot be reached over SSH, whatever runs there.
type cutHosts struct {
	*processHosts
	far map[string]bool
}

func (h cutHosts) UnitState(ctx context.Context, node string) (string, error) {
	if h.far[node] {
		return UnitUnreachable, nil
	}
	return h.processHosts.UnitState(ctx, node)
}

// hungHosts reports a node's unit active although its server is gone: a
// unit systemd runs whose node is not in its cluster (cut off, or stuck).
type hungHosts struct {
	*processHosts
	node string
}

func (h hungHosts) UnitState(ctx context.Context, node string) (string, error) {
	if node == h.node {
		return "active", nil
	}
	return h.processHosts.UnitState(ctx, node)
}

// TestRunbooksRefuseToGuess: a node on the far side of a cut (its host
// unreachable, its server silent from here) is not known to be down, and
// replace-peer and restore-node refuse it (exit 2) unless --force, whose
// risk is written out. A 5-node backbone, 3 + 2 across DCs.
func TestRunbooksRefuseToGuess(t *testing.T) {
	s := testcluster.Other()
	s.Clusters = s.Clusters[:1]
	hub := s.Clusters[0]
	near := hub.Nodes[0].DC
	l := newLab(t, s)
	d := hub.Domain
	l.stream(d, njs.StreamConfig{Name: "near_only", Subjects: []string{"near.>"}, Storage: njs.FileStorage, Replicas: 3,
		Placement: &njs.Placement{Tags: []string{"dc:" + near}}}, 20)

	// The cut, as this side sees it: the far DC's servers are silent (here:
	// stopped; the near side keeps its meta quorum, 3 of 5) and their hosts
	// do not answer SSH.
	far := map[string]bool{}
	for _, n := range hub.Nodes {
		if n.DC != near {
			far[n.Name] = true
			l.c.Stop(n.Name)
		}
	}
	l.c.WaitMetaLeader(d, testwait.Converge)
	var victim string
	for n := range far {
		victim = n
	}
	cut := func(e *Env) { e.Hosts = cutHosts{l.hosts, far} }

	t.Run("replace-peer of a far node refuses", func(t *testing.T) {
		err := l.run(&ReplacePeer{Node: victim}, cut)
		wantRefused(t, err, "nodeDown("+victim+")")
		for _, want := range []string{"cannot be reached over SSH", "partition", "Risk of --force"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("refusal does not say %q: %v", want, err)
			}
		}
	})
	t.Run("replace-peer --force writes the risk out", func(t *testing.T) {
		if err := l.run(&ReplacePeer{Node: victim, Force: true}, cut, func(e *Env) { e.DryRun = true }); err != nil {
			t.Fatal(err)
		}
		ents := lastJournal(t, l, "replace-peer")
		if !slices.ContainsFunc(ents, func(e Entry) bool {
			return e.Name == "nodeDown("+victim+")" && e.Result == "overridden" && strings.Contains(e.Detail, "Risk accepted")
		}) {
			t.Errorf("the journal does not record the override and its risk: %+v", ents)
		}
	})
	t.Run("replace-peer of a node systemd says is down goes on", func(t *testing.T) {
		// Same node, host reachable: its unit is inactive. A dry run passes
		// every pre-check.
		if err := l.run(&ReplacePeer{Node: victim}, func(e *Env) { e.DryRun = true }); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("restore-node of a far node refuses", func(t *testing.T) {
		err := l.run(&RestoreNode{Node: victim}, cut)
		wantRefused(t, err, "nodeStateKnown("+victim+")")
		if !strings.Contains(err.Error(), "partition") {
			t.Errorf("refusal does not name a partition: %v", err)
		}
		if calls := l.hosts.Calls(); slices.Contains(calls, "start "+victim) {
			t.Errorf("a refused restore-node acted: %v", calls)
		}
	})
	t.Run("restore-node of a unit active but not in its cluster refuses", func(t *testing.T) {
		hung := func(e *Env) { e.Hosts = hungHosts{l.hosts, victim} }
		wantRefused(t, l.run(&RestoreNode{Node: victim}, hung), "not down")
		if err := l.run(&RestoreNode{Node: victim, Force: true}, hung, func(e *Env) { e.DryRun = true }); err != nil {
			t.Fatalf("--force: %v", err)
		}
	})
}
