package runbooks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/jetstream"
)

// Runbooks on streams that take writes while they work: a client publishes
// with acks throughout, and each kind of stream gets the proof that fits it.

// liveStream is one kind of stream under test and the proof it must get.
type liveStream struct {
	cfg   njs.StreamConfig
	drain bool   // a consumer takes (acks) messages throughout
	proof string // the proof the post-check must name
}

func liveStreams(prefix string, replicas int) []liveStream {
	cfg := func(name string) njs.StreamConfig {
		return njs.StreamConfig{Name: prefix + name, Subjects: []string{prefix + name + ".>"}, Storage: njs.FileStorage, Replicas: replicas}
	}
	wq, interest, capped := cfg("wq"), cfg("interest"), cfg("capped")
	wq.Retention = njs.WorkQueuePolicy
	interest.Retention = njs.InterestPolicy
	capped.MaxMsgs, capped.Discard = 40, njs.DiscardOld
	return []liveStream{
		{cfg: cfg("limits"), proof: jetstream.ProofRange},
		{cfg: wq, drain: true, proof: jetstream.ProofLastSeq},
		{cfg: interest, drain: true, proof: jetstream.ProofLastSeq},
		{cfg: capped, proof: jetstream.ProofSurvivingRange},
	}
}

// publishThroughout starts a client publishing with acks to s every 10 ms,
// and with s.drain a consumer that acks messages at half the publishing
// rate, so that a backlog builds up and is consumed while the runbook works.
func (l *lab) publishThroughout(domain string, s liveStream) *testcluster.Publisher {
	l.t.Helper()
	js := l.js(domain)
	o := testcluster.PublishOptions{Prefix: strings.TrimSuffix(s.cfg.Subjects[0], ">"), Every: 10 * time.Millisecond}
	if s.drain {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := js.CreateOrUpdateConsumer(ctx, s.cfg.Name, njs.ConsumerConfig{Durable: "drain", AckPolicy: njs.AckExplicitPolicy})
		cancel()
		if err != nil {
			l.t.Fatalf("consumer on %s: %v", s.cfg.Name, err)
		}
		o.Drain = c
	}
	return testcluster.StartPublisher(l.t, js, s.cfg.Name, s.cfg.Name, o)
}

// proofs reads the proofs of the newest journal of runbook, by stream.
func proofs(t *testing.T, l *lab, runbook string) map[string]*jetstream.Proof {
	t.Helper()
	out := map[string]*jetstream.Proof{}
	for _, e := range lastJournal(t, l, runbook) {
		if e.Phase == "proof" && e.Proof != nil {
			out[e.Name] = e.Proof
		}
	}
	return out
}

// wantProof asserts the stream's post-check named the expected proof and
// that the stream grew while the runbook ran (the publisher was live).
func wantProof(t *testing.T, got map[string]*jetstream.Proof, s liveStream) {
	t.Helper()
	p := got[s.cfg.Name]
	if p != nil && s.proof == jetstream.ProofSurvivingRange && p.Kind == jetstream.ProofRange &&
		s.cfg.MaxMsgs > 0 && int64(p.LastSeq-p.From+1) <= s.cfg.MaxMsgs {
		// The publisher stalled while the runbook worked (a replica change
		// can hold acks for a second), so the limit discarded nothing from
		// the recorded range: the full range proof is the right one then.
		t.Logf("%s: %s; the limit (%d) had nothing of the range to discard", s.cfg.Name, p, s.cfg.MaxMsgs)
		s.proof = jetstream.ProofRange
	}
	switch {
	case p == nil:
		t.Errorf("%s: no proof journaled (%v)", s.cfg.Name, got)
	case p.Kind != s.proof:
		t.Errorf("%s: proven by %s, want %s", s.cfg.Name, p, s.proof)
	case p.LastSeq <= p.To:
		t.Errorf("%s: the stream did not grow during the run (%s): the test proves nothing", s.cfg.Name, p)
	case p.Kind == jetstream.ProofRange && p.Verified == 0:
		t.Errorf("%s: nothing verified (%s)", s.cfg.Name, p)
	case p.Kind != jetstream.ProofRange && p.Digest != "" && p.Gone == 0:
		t.Errorf("%s: nothing consumed or discarded (%s)", s.cfg.Name, p)
	}
}

func TestExpandStreamLive(t *testing.T) {
	l := newLab(t, spec())
	for _, s := range liveStreams("x", 1) {
		t.Run(s.cfg.Name, func(t *testing.T) {
			l.stream("us", s.cfg, 0)
			pub := l.publishThroughout("us", s)
			pub.WaitAcked(t, 60, testwait.Converge)
			if err := l.run(&ExpandStream{Stream: s.cfg.Name, Domain: "us", Replicas: 3}); err != nil {
				t.Fatal(err)
			}
			wantProof(t, proofs(t, l, "expand-stream"), s)
			pub.Check(t)
		})
	}
}

func TestReplacePeerLive(t *testing.T) {
	l := newLab(t, spec())
	streams := liveStreams("r", 3)
	// Every stream needs a replica on the node that dies, and a server free
	// to take its new one: create them while one backbone server is down
	// (so they land on the other three), then bring it back.
	// Neither is the meta leader: no election slows the test down.
	leader := l.c.WaitMetaLeader("hub", testwait.Converge)
	var others []string
	for _, n := range []string{"bb_emea_1", "bb_emea_2", "bb_us_1", "bb_us_2"} {
		if n != leader {
			others = append(others, n)
		}
	}
	spare, victim := others[0], others[1]
	l.c.Stop(spare)
	// Until the meta leader counts spare offline it may still place a
	// replica there, and a stream without one on victim is not affected by
	// its replacement (and gets no proof).
	testwait.Eventually(t, time.Minute, spare+" offline in the meta group", func() error {
		return metaPeerIs(l, spare, func(p *server.PeerInfo) bool { return p.Offline })
	})
	for _, s := range streams {
		l.stream("hub", s.cfg, 0)
	}
	for _, s := range streams {
		info, err := l.js("hub").Stream(t.Context(), s.cfg.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !clusterHas(info.CachedInfo().Cluster, victim) {
			t.Fatalf("%s has no replica on %s: %+v", s.cfg.Name, victim, info.CachedInfo().Cluster)
		}
	}
	l.c.Start(spare)
	testwait.Eventually(t, time.Minute, spare+" a current meta peer", func() error {
		return metaPeerIs(l, spare, func(p *server.PeerInfo) bool { return p.Current && !p.Offline })
	})
	var pubs []*testcluster.Publisher
	for _, s := range streams {
		pubs = append(pubs, l.publishThroughout("hub", s))
	}
	for _, p := range pubs {
		p.WaitAcked(t, 60, testwait.Converge)
	}
	l.c.Stop(victim)
	if err := l.run(&ReplacePeer{Node: victim}); err != nil {
		t.Fatal(err)
	}
	got := proofs(t, l, "replace-peer")
	for i, s := range streams {
		wantProof(t, got, s)
		pubs[i].Check(t)
	}
}

// TestRestartsLive: rolling-restart and restore-node move no data and take
// no digest; their proof is "last sequence not behind, replicas current".
func TestRestartsLive(t *testing.T) {
	l := newLab(t, spec())
	streams := liveStreams("n", 3)
	var pubs []*testcluster.Publisher
	for _, s := range streams {
		l.stream("us", s.cfg, 0)
		pubs = append(pubs, l.publishThroughout("us", s))
	}
	for _, p := range pubs {
		p.WaitAcked(t, 30, testwait.Converge)
	}
	cheap := func(s liveStream) liveStream { s.proof = jetstream.ProofLastSeq; return s }

	if err := l.run(&RollingRestart{Cluster: "US"}); err != nil {
		t.Fatal(err)
	}
	got := proofs(t, l, "rolling-restart")
	for _, s := range streams {
		wantProof(t, got, cheap(s))
	}

	l.c.Stop("us_2")
	for _, p := range pubs {
		p.WaitAcked(t, 10, testwait.Converge) // R3 streams take writes with a replica down
	}
	if err := l.run(&RestoreNode{Node: "us_2"}); err != nil {
		t.Fatal(err)
	}
	got = proofs(t, l, "restore-node")
	for i, s := range streams {
		wantProof(t, got, cheap(s))
		pubs[i].Check(t)
	}

	// A stream that came back behind its recorded last sequence (here: made
	// again, empty) fails the post-check.
	recreate := withStep{Runbook: &RestoreNode{Node: "us_2"}, step: Step{
		Name: "recreateStream",
		Run: func(ctx context.Context, _ func(string)) error {
			js := l.js("us")
			if err := js.DeleteStream(ctx, streams[0].cfg.Name); err != nil {
				return err
			}
			_, err := js.CreateStream(ctx, streams[0].cfg)
			return err
		},
	}}
	err := l.run(recreate)
	if err == nil || !strings.Contains(err.Error(), "is behind the recorded") {
		t.Fatalf("restore-node after a stream lost its messages: %v", err)
	}
}

// withStep is a runbook with one more step after its own: the test's way to
// do something between the baseline and the post-checks.
type withStep struct {
	Runbook
	step Step
}

func (w withStep) Steps(e *Env) []Step { return append(w.Runbook.Steps(e), w.step) }

func TestLostMessageFailsThePostCheck(t *testing.T) {
	l := newLab(t, spec())
	s := liveStreams("lost", 1)[0]
	l.stream("us", s.cfg, 30)
	pub := l.publishThroughout("us", s)
	pub.WaitAcked(t, 20, testwait.Converge)
	lose := withStep{Runbook: &ExpandStream{Stream: s.cfg.Name, Domain: "us", Replicas: 3}, step: Step{
		Name: "deleteAcknowledgedMessage(12)",
		Run: func(ctx context.Context, _ func(string)) error {
			st, err := l.js("us").Stream(ctx, s.cfg.Name)
			if err != nil {
				return err
			}
			return st.DeleteMsg(ctx, 12) // STREAM.MSG.DELETE: inside the recorded range
		},
	}}
	err := l.run(lose)
	var failed *FailedError
	if !errors.As(err, &failed) {
		t.Fatalf("want the post-check to fail, got %v", err)
	}
	for _, want := range []string{"streamDataIntact(" + s.cfg.Name + ")", "lost 1 acknowledged messages", "sequences 12"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("failure %q does not say %q", err, want)
		}
	}
	if got := proofs(t, l, "expand-stream"); got[s.cfg.Name] != nil {
		t.Errorf("a proof was journaled for a stream that lost a message: %s", got[s.cfg.Name])
	}
}

// metaPeerIs is nil once the hub's meta leader reports node as a meta peer
// that is accepts.
func metaPeerIs(l *lab, node string, is func(*server.PeerInfo) bool) error {
	leader := l.c.MetaLeader("hub")
	if leader == "" {
		return errors.New("no meta leader")
	}
	jsz, err := l.c.Server(leader).Jsz(nil)
	if err != nil {
		return err
	}
	for _, p := range jsz.Meta.Replicas {
		if p.Name == node && is(p) {
			return nil
		}
	}
	return fmt.Errorf("meta group %+v", jsz.Meta.Replicas)
}

// clusterHas tells whether node is the leader or a replica of a stream.
func clusterHas(c *njs.ClusterInfo, node string) bool {
	if c == nil {
		return false
	}
	if c.Leader == node {
		return true
	}
	for _, r := range c.Replicas {
		if r.Name == node {
			return true
		}
	}
	return false
}
