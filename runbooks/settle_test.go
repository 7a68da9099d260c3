package runbooks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
)

// TestSettleOutlastsARequestThatTimesOut: with 5 s NATS requests, a check
// whose first request gets no answer (the stream's servers and the meta
// leader are down) and takes the whole timeout still passes once they are
// back and the stream has a leader again. The settle
// window is two request timeouts and a margin; a window of one timeout (5 s
// before) was used up by that first request, and the check refused a state
// that settles in seconds.
func TestSettleOutlastsARequestThatTimesOut(t *testing.T) {
	s := testcluster.Seed()
	s.Clusters = s.Clusters[:1] // the backbone: 4 servers
	domain := s.Clusters[0].Domain
	l := newLabTimeout(t, s, 5*time.Second)
	l.stream(domain, njs.StreamConfig{Name: "orders", Subjects: []string{"orders.>"}, Storage: njs.FileStorage, Replicas: 3}, 20)
	e := l.env()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nc, err := e.nats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := nc.Stream(ctx, domain, "orders")
	if err != nil {
		t.Fatal(err)
	}
	// Every server of the stream, the meta leader among them: three of
	// four, so the one left has no meta quorum and nobody answers for it
	// (a live meta leader would say "stream is offline" at once).
	down := st.Peers()
	testwait.Eventually(t, time.Minute, "the meta leader among the stream's servers", func() error {
		m, err := nc.Meta(ctx, domain)
		switch {
		case err != nil:
			return err
		case slices.Contains(down, m.Leader):
			return nil
		case m.Leader != "":
			if err := nc.MetaStepDown(ctx, domain, down[0]); err != nil {
				return err
			}
		}
		return fmt.Errorf("meta leader %q", m.Leader)
	})
	for _, n := range down {
		l.c.Stop(n)
	}
	calls := 0
	var back sync.WaitGroup
	defer back.Wait()
	t0 := time.Now()
	err = e.settle(ctx, func() error {
		calls++
		if calls == 1 {
			// They come back while the first request waits in vain: it
			// was sent when nobody could answer it.
			back.Go(func() {
				for _, n := range down {
					l.c.Start(n)
				}
			})
		}
		st, err := nc.Stream(ctx, domain, "orders")
		if calls == 1 {
			t.Logf("first request: %.1fs, %v", time.Since(t0).Seconds(), err)
		}
		switch {
		case err != nil:
			return err
		case st.Leader == "":
			return errors.New("orders has no leader")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the check did not outlast its first request (%d request(s) in %.1fs): %v", calls, time.Since(t0).Seconds(), err)
	}
	t.Logf("passed after %d request(s), %.1fs", calls, time.Since(t0).Seconds())
}
