package runbooks

import (
	"bytes"
	"context"
	"fmt"
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

// withStandby is spec() with a standby node in the backbone, ready to be a
// replacement.
func withStandby() testcluster.Spec {
	s := spec()
	s.Clusters[0].Nodes = append(s.Clusters[0].Nodes, testcluster.NodeSpec{Name: "bb_emea_3", DC: "emea", Standby: true})
	return s
}

// peers lists a stream's replicas as its leader reports them.
func (l *lab) peers(domain, stream string) ([]string, error) {
	si, err := l.info(domain, stream)
	if err != nil {
		return nil, err
	}
	if si.Cluster == nil {
		return nil, fmt.Errorf("stream %s has no cluster info", stream)
	}
	out := []string{si.Cluster.Leader}
	for _, r := range si.Cluster.Replicas {
		if !r.Current || r.Offline {
			return nil, fmt.Errorf("replica %s not current", r.Name)
		}
		out = append(out, r.Name)
	}
	return out, nil
}

// TestReplacePeerSettles: the node's domain is settled first, so the
// checks name it; a replacement must be another node of the same cluster.
func TestReplacePeerSettles(t *testing.T) {
	names, err := settledChecks(t, &ReplacePeer{Node: "bb_us_2"})
	if err != nil {
		t.Fatal(err)
	}
	wantChecks(t, names, "metaLeader(hub)", "metaQuorumWithout(bb_us_2)", "nodeDown(bb_us_2)", "streamsKeepQuorumWithout(bb_us_2)")
	wantChecks(t, settledPostChecks(t, &ReplacePeer{Node: "bb_us_2"}), "allStreamsCurrent(hub)", "metaGroupAsIntended(hub)")
	for rb, want := range map[*ReplacePeer]string{
		{Node: "bb_us_9"}:                         `no node "bb_us_9"`,
		{Node: "bb_us_2", Replacement: "us_1"}:    "must join the same cluster",
		{Node: "bb_us_2", Replacement: "bb_us_2"}: "must have a new server_name",
		{Node: "bb_us_2", Replacement: "bb_x"}:    `no node "bb_x"`,
	} {
		if _, err := settledChecks(t, rb); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", rb.Target(), err, want)
		}
	}
}

func TestReplacePeer(t *testing.T) {
	l := newLab(t, withStandby())
	l.stream("hub", njs.StreamConfig{Name: "foo", Subjects: []string{"foo.>"}, Storage: njs.FileStorage, Replicas: 3}, 200)
	l.stream("us", njs.StreamConfig{Name: "us", Subjects: []string{"us.>"}, Storage: njs.FileStorage, Replicas: 3}, 50)

	first, err := l.peers("hub", "foo")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("live node is refused", func(t *testing.T) {
		// A node that runs and answers has nothing to bring back: the
		// refusal says how to move its replicas off on purpose.
		err := l.run(&ReplacePeer{Node: first[1]})
		wantRefused(t, err, "is not down")
		if !strings.Contains(err.Error(), "dcctl node stop "+first[1]+"`, then run this again") || strings.Contains(err.Error(), "bring it back") {
			t.Errorf("a running, answering node's refusal: %v, want the stop-first way and no \"bring it back\"", err)
		}
		// --permanent on a running node is how one shrinks a cluster: the
		// refusal says to stop it first, not to bring it back.
		err = l.run(&ReplacePeer{Node: first[1], Permanent: true})
		wantRefused(t, err, "dcctl node stop "+first[1]+"`, then run this again")
		if strings.Contains(err.Error(), "bring it back") {
			t.Errorf("a running node's retirement is told to bring it back: %v", err)
		}
		after, err := l.peers("hub", "foo")
		if err != nil || !slices.Contains(after, first[1]) {
			t.Fatalf("refused run changed the stream: %v %v", after, err)
		}
	})

	t.Run("no server for a new replica is refused", func(t *testing.T) {
		// US has three servers and an R3 stream: nowhere to move us_1's replica.
		l.c.Stop("us_1")
		defer func() {
			if err := l.run(&RestoreNode{Node: "us_1"}); err != nil {
				t.Fatalf("restore-node us_1: %v", err)
			}
			if !slices.Equal(l.hosts.Calls()[len(l.hosts.Calls())-1:], []string{"start us_1"}) {
				t.Fatalf("restore-node did not start the unit: %v", l.hosts.Calls())
			}
		}()
		wantRefused(t, l.run(&ReplacePeer{Node: "us_1"}), "no online server")
	})

	t.Run("dead leader replaced", func(t *testing.T) {
		dead := first[0] // the stream leader, as in the drill
		l.c.Stop(dead)
		if err := l.run(&ReplacePeer{Node: dead}, func(e *Env) { e.Confirm = func(string) error { return nil } }); err != nil {
			t.Fatal(err)
		}
		got, err := l.peers("hub", "foo")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || slices.Contains(got, dead) {
			t.Fatalf("foo replicas after replace-peer: %v (dead %s)", got, dead)
		}
		si, _ := l.info("hub", "foo")
		if si.State.Msgs != 200 || si.State.LastSeq != 200 {
			t.Fatalf("foo state %+v", si.State)
		}
		ents := lastJournal(t, l, "replace-peer")
		var baselines int
		var proof *jetstream.Proof
		for _, e := range ents {
			if e.Phase == "baseline" {
				baselines++
			}
			if e.Phase == "proof" && e.Name == "foo" {
				proof = e.Proof
			}
		}
		if baselines < 1 || proof == nil || proof.Kind != jetstream.ProofRange || proof.Verified != 200 {
			t.Fatalf("journal records %d baselines and proof %v, want a baseline and a range-digest proof of 200 messages", baselines, proof)
		}
		// Published messages still land, with a new sequence.
		l.publish("hub", "foo.>", 1)

		// The node comes back; it holds no replica of foo any more, and a
		// second replace-peer of the same node has nothing to do.
		if err := l.run(&RestoreNode{Node: dead}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("force moves replicas off a running node", func(t *testing.T) {
		var cur []string
		testwait.Eventually(t, time.Minute, "foo whole", func() (err error) {
			cur, err = l.peers("hub", "foo")
			if err == nil && len(cur) != 3 {
				err = fmt.Errorf("replicas %v", cur)
			}
			return err
		})
		victim := cur[1]
		if err := l.run(&ReplacePeer{Node: victim, Force: true}); err != nil {
			t.Fatal(err)
		}
		testwait.Eventually(t, time.Minute, "foo off "+victim, func() error {
			got, err := l.peers("hub", "foo")
			if err != nil {
				return err
			}
			if len(got) != 3 || slices.Contains(got, victim) {
				return fmt.Errorf("replicas %v", got)
			}
			return nil
		})
	})

	t.Run("permanent with a standby replacement", func(t *testing.T) {
		var cur []string
		testwait.Eventually(t, time.Minute, "foo whole", func() (err error) {
			cur, err = l.peers("hub", "foo")
			if err == nil && len(cur) != 3 {
				err = fmt.Errorf("replicas %v", cur)
			}
			return err
		})
		gone := cur[2]
		l.c.Stop(gone)
		rp := &ReplacePeer{Node: gone, Replacement: "bb_emea_3", Permanent: true}
		if err := l.run(rp); err != nil {
			t.Fatal(err)
		}
		// The removed node's host answers: it is retired (unit disabled,
		// removed marker) so that provision does not start it while the
		// inventory still lists it, and the next steps say so.
		if !slices.Contains(l.hosts.Calls(), "retire "+gone) {
			t.Errorf("%s not retired; host calls %v", gone, l.hosts.Calls())
		}
		next := strings.Join(rp.Next(l.env()), "\n")
		if !strings.Contains(next, "remove [nodes."+gone+"]") || strings.Contains(next, "node stop "+gone) {
			t.Errorf("next steps:\n%s", next)
		}
		if l.c.Server("bb_emea_3") == nil {
			t.Fatal("replacement not running")
		}
		// Ask a live server directly: the meta group has bb_emea_3 and not the removed node.
		leader := l.c.MetaLeader("hub")
		jsz, err := l.c.Server(leader).Jsz(nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range jsz.Meta.Replicas {
			names = append(names, p.Name)
		}
		names = append(names, leader)
		if slices.Contains(names, gone) || !slices.Contains(names, "bb_emea_3") {
			t.Fatalf("meta group %v: want bb_emea_3 in, %s out", names, gone)
		}

		// Run again (as after an interruption): the node is retired
		// already, and the step says so instead of retiring it again.
		var out bytes.Buffer
		again := &ReplacePeer{Node: gone, Replacement: "bb_emea_3", Permanent: true}
		if err := l.run(again, func(e *Env) { e.Out = &out }); err != nil {
			t.Fatalf("re-run: %v\n%s", err, &out)
		}
		retires := 0
		for _, c := range l.hosts.Calls() {
			if c == "retire "+gone {
				retires++
			}
		}
		if retires != 1 || !strings.Contains(out.String(), "retire("+gone+") [destructive]: already done, skipped") {
			t.Errorf("re-run: %s retired %d times, want once and the step skipped as done:\n%s", gone, retires, &out)
		}
		if next := strings.Join(again.Next(l.env()), "\n"); strings.Contains(next, "replace-peer "+gone) {
			t.Errorf("re-run's next steps ask to retire the retired node again:\n%s", next)
		}
	})

	t.Run("permanent with its host unreachable, retired by the advised re-run", func(t *testing.T) {
		// A meta peer that holds no replica of foo: nothing to move, so
		// the run is about the meta group and the host alone.
		var victim string
		testwait.Eventually(t, time.Minute, "a hub peer without foo", func() error {
			cur, err := l.peers("hub", "foo")
			if err != nil {
				return err
			}
			for _, n := range l.c.Inv.ClusterByDomain("hub").Nodes {
				if !slices.Contains(cur, n.Name) && l.c.Server(n.Name) != nil {
					victim = n.Name
					return nil
				}
			}
			return fmt.Errorf("foo on %v: no running hub node without it", cur)
		})
		l.c.Stop(victim)
		l.hosts.cutOff(victim, true)
		rp := &ReplacePeer{Node: victim, Permanent: true, Force: true}
		if err := l.run(rp); err != nil {
			t.Fatal(err)
		}
		next := rp.Next(l.env())
		want := RetireAdvice(victim, l.c.Inv.File)
		if len(next) == 0 || next[0] != want || strings.Contains(strings.Join(next, "\n"), "node stop") {
			t.Fatalf("next steps %q, want first %q", next, want)
		}
		// The advice is the runbook again, as the operator would type it.
		cmd := "dcctl runbook replace-peer " + victim + " --permanent " + l.c.Inv.File
		if !strings.Contains(want, ": "+cmd+" (") {
			t.Fatalf("advice %q does not name %q", want, cmd)
		}

		// The host is back, and with it the unit, still enabled: the
		// server runs again outside its meta group.
		l.hosts.cutOff(victim, false)
		l.c.Start(victim)
		var out bytes.Buffer
		if err := l.run(&ReplacePeer{Node: victim, Permanent: true}, func(e *Env) { e.Out = &out }); err != nil {
			t.Fatalf("the advised re-run: %v\n%s", err, &out)
		}
		if done, err := l.hosts.Retired(context.Background(), victim); !done || err != nil || l.c.Server(victim) != nil {
			t.Errorf("after the advised re-run %s is retired %v (%v), running %v; want the removed marker and its server down", victim, done, err, l.c.Server(victim) != nil)
		}
		if !strings.Contains(out.String(), "metaPeerRemove("+victim+") [destructive]: already done, skipped") {
			t.Errorf("the re-run did not skip the meta peer-remove as done:\n%s", &out)
		}
	})
}

// TestRefusalsWithoutMetaLeader is the drill "2 of 4 backbone nodes down":
// every runbook that needs the meta group refuses and changes nothing; then
// restore-node brings the nodes back and the meta group is whole again.
func TestRefusalsWithoutMetaLeader(t *testing.T) {
	l := newLab(t, spec())
	l.stream("hub", njs.StreamConfig{Name: "foo", Subjects: []string{"foo.>"}, Storage: njs.FileStorage, Replicas: 1}, 20)
	dir := filepath.Join(t.TempDir(), "backup")
	l.stream("hub", njs.StreamConfig{Name: "bar", Subjects: []string{"bar.>"}, Storage: njs.FileStorage, Replicas: 1}, 20)
	if err := l.run(&Backup{Stream: "bar", Domain: "hub", Dir: dir}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.js("hub").DeleteStream(ctx, "bar"); err != nil {
		t.Fatal(err)
	}
	si, err := l.info("hub", "foo")
	if err != nil {
		t.Fatal(err)
	}
	home := si.Cluster.Leader
	var down []string
	for _, n := range []string{"bb_emea_1", "bb_emea_2", "bb_us_1", "bb_us_2"} {
		if n != home && len(down) < 2 {
			down = append(down, n)
		}
	}
	for _, n := range down {
		l.c.Stop(n)
	}
	testwait.Eventually(t, time.Minute, "hub loses its meta leader", func() error {
		if ml := l.c.MetaLeader("hub"); ml != "" {
			return fmt.Errorf("meta leader %s", ml)
		}
		return nil
	})

	wantRefused(t, l.run(&ReplacePeer{Node: down[0]}), "no meta leader")
	// Silent servers may run behind a cut between DCs: the refusal does not
	// send the operator to restore them only.
	wantRefused(t, l.run(&ReplacePeer{Node: down[0]}), "may be behind a cut between DCs, which heals by itself: dcctl status says which")
	wantRefused(t, l.run(&ExpandStream{Stream: "foo", Domain: "hub", Replicas: 2}), "no meta leader")
	wantRefused(t, l.run(&RestoreStream{From: dir}), "no meta leader")
	wantRefused(t, l.run(&RollingRestart{Cluster: "BB"}), "no meta leader")
	// Nothing changed: the running servers still hold foo as R1, bar is not back.
	for _, n := range []string{home} {
		if err := serverHolds(l, n, "foo", 20, 20); err != nil {
			t.Fatal(err)
		}
	}
	if l.c.Server(down[0]) != nil || l.c.Server(down[1]) != nil {
		t.Fatal("a refused runbook started a node")
	}

	for _, n := range down {
		if err := l.run(&RestoreNode{Node: n}); err != nil {
			t.Fatal(err)
		}
	}
	if ml := l.c.WaitMetaLeader("hub", testwait.Converge); ml == "" {
		t.Fatal("no meta leader after restoring")
	}
	testwait.Eventually(t, time.Minute, "foo back", func() error {
		si, err := l.info("hub", "foo")
		if err != nil {
			return err
		}
		if si.Config.Replicas != 1 || si.State.Msgs != 20 {
			return fmt.Errorf("foo R%d with %d messages", si.Config.Replicas, si.State.Msgs)
		}
		return nil
	})
	if _, err := l.info("hub", "bar"); err == nil {
		t.Fatal("bar was restored by a refused run")
	}
}

// TestReplacePeerPlacedStream: a stream placed by tags (dc:us) takes a new
// replica only on a server carrying them. With every us server of the hub
// already in its peer group, replace-peer refuses before any step, naming
// the stream and its tags, though servers of the other DC and the
// replacement are there: nats-server would refuse the peer-remove
// ("peer remap failed") halfway through the run.
func TestReplacePeerPlacedStream(t *testing.T) {
	s := withStandby()
	s.Clusters[0].Nodes = append(s.Clusters[0].Nodes, testcluster.NodeSpec{Name: "bb_us_3", DC: "us"})
	l := newLab(t, s)
	l.stream("hub", njs.StreamConfig{Name: "placed", Subjects: []string{"placed.>"}, Storage: njs.FileStorage, Replicas: 3, Placement: &njs.Placement{Tags: []string{"dc:us"}}}, 10)
	l.c.Stop("bb_us_1")
	wantRefused(t, l.run(&ReplacePeer{Node: "bb_us_1", Replacement: "bb_emea_3"}), "placed (placed on servers tagged dc:us)")
	if calls := l.hosts.Calls(); len(calls) > 0 {
		t.Fatalf("the refused run acted on hosts: %v", calls)
	}
}
