package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testwait"
)

// livePublisher is a client publishing with acks to a stream while a drill
// runs, as production clients do; it remembers every acknowledged sequence
// and payload so that the drill can check none of them went missing.
type livePublisher struct {
	d      *drillLab
	domain string
	stream string
	stop   chan struct{}
	done   chan struct{}

	mu    sync.Mutex
	acked map[uint64]string
	fails int
}

// publishLive starts publishing to subjects under prefix (e.g. "foo.live.")
// every 20 ms until check or stop.
func (d *drillLab) publishLive(domain, stream, prefix string) *livePublisher {
	p := &livePublisher{d: d, domain: domain, stream: stream, stop: make(chan struct{}), done: make(chan struct{}), acked: map[uint64]string{}}
	js := d.js(domain)
	go func() {
		defer close(p.done)
		pace := time.NewTicker(20 * time.Millisecond) // a rate, not a synchronisation
		defer pace.Stop()
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			case <-pace.C:
			}
			data := fmt.Sprintf("%s live %d at %s", stream, i, time.Now().Format(time.RFC3339Nano))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			ack, err := js.Publish(ctx, fmt.Sprintf("%s%d", prefix, i%5), []byte(data))
			cancel()
			p.mu.Lock()
			if err == nil && ack.Stream == stream {
				p.acked[ack.Sequence] = data
			} else {
				p.fails++
			}
			p.mu.Unlock()
		}
	}()
	d.t.Cleanup(p.halt)
	return p
}

func (p *livePublisher) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// count is how many messages were acknowledged so far.
func (p *livePublisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// waitAcked waits until n more messages than now were acknowledged: the
// stream is being written to at this point of the drill.
func (p *livePublisher) waitAcked(t *testing.T, n int) {
	t.Helper()
	want := p.count() + n
	testwait.Eventually(t, time.Minute, p.stream+" takes writes", func() error {
		if got := p.count(); got < want {
			return fmt.Errorf("%d acknowledged, want %d", got, want)
		}
		return nil
	})
}

// check stops the publisher and asserts that every acknowledged message is
// in the stream with its payload, asking the stream leader for each one.
func (p *livePublisher) check(t *testing.T) {
	t.Helper()
	p.halt()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.acked) == 0 {
		t.Fatalf("%s: no message was acknowledged while the drill ran (%d publishes failed)", p.stream, p.fails)
	}
	seqs := p.d.assertAckedPresent(t, p.stream, p.domain, p.stream, p.acked)
	t.Logf("%s: all %d acknowledged messages present (%d..%d; %d publishes failed during the drill)", p.stream, len(seqs), seqs[0], seqs[len(seqs)-1], p.fails)
}

// assertAckedPresent asserts that every acknowledged sequence is in the
// stream with its payload, asking the stream leader for each one, and
// returns the sequences in order. name says whose messages they are.
func (d *drillLab) assertAckedPresent(t *testing.T, name, domain, stream string, acked map[uint64]string) []uint64 {
	t.Helper()
	seqs := make([]uint64, 0, len(acked))
	for seq := range acked {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	testwait.Eventually(t, time.Minute, "every acknowledged message of "+name, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := d.js(domain).Stream(ctx, stream)
		if err != nil {
			return err
		}
		for _, seq := range seqs {
			m, err := s.GetMsg(ctx, seq)
			if errors.Is(err, njs.ErrMsgNotFound) {
				t.Fatalf("%s: acknowledged sequence %d is missing", name, seq)
			}
			if err != nil {
				return fmt.Errorf("get %s seq %d: %w", stream, seq, err)
			}
			if string(m.Data) != acked[seq] {
				t.Fatalf("%s: sequence %d holds %q, acknowledged %q", name, seq, m.Data, acked[seq])
			}
		}
		return nil
	})
	return seqs
}
