package status_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/status"
)

// TestWritesUnderway: while clients publish as fast as they are acknowledged,
// a follower a message or two behind the stream leader is catching up, not
// degraded: every report is healthy, and one of them shows a follower
// catching up (the case the report must tell apart). A follower whose server
// stopped then makes the stream degraded, the publishers still running.
func TestWritesUnderway(t *testing.T) {
	c := testcluster.Start(t, testcluster.WriteInventory(t, testcluster.Seed()))
	js := c.JetStream(t, "hub")
	testcluster.CreateStream(t, js, njs.StreamConfig{Name: "ticks", Subjects: []string{"ticks.>"}, Replicas: 3}, testwait.Converge)
	s := session(t, c)
	waitReport(t, s, settle, healthy)

	var pubs []*testcluster.Publisher
	for i := range 6 {
		// Each on its own connection, one publish in flight each: the
		// stream leader is acknowledged by a quorum, the third replica
		// trails by up to that many entries.
		p := testcluster.StartPublisher(t, c.JetStream(t, "hub"), fmt.Sprintf("client-%d", i), "ticks",
			testcluster.PublishOptions{Prefix: "ticks." + fmt.Sprint(i) + ".", Every: 50 * time.Microsecond})
		pubs = append(pubs, p)
	}
	for _, p := range pubs {
		p.WaitAcked(t, 20, settle)
	}

	deadline := time.Now().Add(settle)
	reports := 0
	for seen := false; !seen; {
		r := collect(t, s, "hub")
		reports++
		if err := healthy(r); err != nil {
			var b bytes.Buffer
			r.Write(&b)
			t.Fatalf("report %d under writes: %v\n%s", reports, err, b.String())
		}
		for _, st := range domain(r, "hub").Streams {
			seen = seen || len(st.CatchingUp) > 0
		}
		if !seen && time.Now().After(deadline) {
			t.Fatalf("no follower was seen behind in %d reports over %s: the publishers are too slow to test this", reports, settle)
		}
	}
	t.Logf("a follower catching up in report %d", reports)

	r := collect(t, s, "hub")
	var st *status.Stream
	for _, x := range domain(r, "hub").Streams {
		if x.Name == "ticks" {
			st = x
		}
	}
	if st == nil || len(st.Peers) != 3 {
		t.Fatalf("stream ticks: %+v", st)
	}
	// Stop a follower that is not the meta leader: the meta group keeps
	// its quorum, the stream its majority, the publishers go on.
	var victim string
	for _, p := range st.Peers {
		if !p.Leader && p.Name != c.MetaLeader("hub") {
			victim = p.Name
		}
	}
	if victim == "" {
		t.Fatalf("no follower besides the meta leader: %+v", st.Peers)
	}
	c.Stop(victim)
	r = waitReport(t, s, settle, func(r *status.Report) error {
		for _, x := range domain(r, "hub").Streams {
			if x.Name == "ticks" && strings.Contains(x.Problem, victim) {
				return nil
			}
		}
		return fmt.Errorf("stream ticks not degraded by %s: %+v", victim, domain(r, "hub").Streams)
	})
	if r.Healthy || !slices.ContainsFunc(r.Warnings, func(w status.Warning) bool {
		return w.Level == status.LevelDegraded && strings.Contains(w.Message, "ticks") && strings.Contains(w.Message, victim)
	}) {
		t.Errorf("stopped follower %s: healthy %v, warnings %+v", victim, r.Healthy, r.Warnings)
	}
	for _, p := range pubs {
		if p.Total().Acks == 0 {
			t.Errorf("%s: no publish acknowledged", p.Name)
		}
	}
}
