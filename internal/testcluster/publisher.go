package testcluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testwait"
)

// Publisher is a client publishing with acks to one stream at a steady pace
// while a test or drill works, as production clients do. It remembers every
// acknowledged sequence with its payload, so that the test can prove none
// went missing, and counts attempts and acks per phase of the drill, so that
// a drill can say what clients saw during, say, a network cut.
type Publisher struct {
	Name, Stream string

	js         njs.JetStream
	stop, done chan struct{}

	mu         sync.Mutex
	phase      string
	phaseStart time.Time
	per        map[string]*PubStats
	acked      map[uint64]string
}

// PubStats is what a Publisher saw in one phase.
type PubStats struct {
	Attempts, Acks int
	FirstAck       time.Duration // since the phase began; -1 before the first
	LastErr        string
}

// PublishOptions says how a Publisher publishes.
type PublishOptions struct {
	// Prefix is put before the subjects, which cycle through Prefix+"0"
	// .. Prefix+"4" ("orders.live." gives orders.live.0 ..).
	Prefix string
	// Every is the pace; 20 ms when zero.
	Every time.Duration
	// Drain, when set, is acked one message every second publish, so that
	// a backlog builds up on a work-queue or interest stream and is consumed
	// while the test works.
	Drain njs.Consumer
}

// StartPublisher starts publishing to stream through js in the phase
// "before". name says whose messages they are in failures and summaries.
// It stops when the test ends, if not before.
func StartPublisher(t testing.TB, js njs.JetStream, name, stream string, o PublishOptions) *Publisher {
	if o.Every == 0 {
		o.Every = 20 * time.Millisecond
	}
	p := &Publisher{Name: name, Stream: stream, js: js, stop: make(chan struct{}), done: make(chan struct{}),
		phase: "before", phaseStart: time.Now(), per: map[string]*PubStats{"before": {FirstAck: -1}}, acked: map[uint64]string{}}
	go p.run(o)
	t.Cleanup(p.Halt)
	return p
}

func (p *Publisher) run(o PublishOptions) {
	defer close(p.done)
	pace := time.NewTicker(o.Every) // a rate, not a synchronisation
	defer pace.Stop()
	for i := 0; ; i++ {
		select {
		case <-p.stop:
			return
		case <-pace.C:
		}
		p.mu.Lock()
		phase, since := p.phase, p.phaseStart
		p.mu.Unlock()
		data := fmt.Sprintf("%s %d %s at %s", p.Stream, i, phase, time.Now().Format(time.RFC3339Nano))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ack, err := p.js.Publish(ctx, fmt.Sprintf("%s%d", o.Prefix, i%5), []byte(data))
		cancel()
		if err == nil && ack.Stream != p.Stream {
			err = fmt.Errorf("acknowledged by stream %s", ack.Stream)
		}
		p.mu.Lock()
		// A publish counts for the phase it started in.
		st := p.per[phase]
		st.Attempts++
		if err == nil {
			st.Acks++
			p.acked[ack.Sequence] = data
			if st.FirstAck < 0 {
				st.FirstAck = time.Since(since)
			}
		} else {
			st.LastErr = err.Error()
		}
		p.mu.Unlock()
		if o.Drain != nil && i%2 == 0 {
			if batch, err := o.Drain.FetchNoWait(1); err == nil {
				for m := range batch.Messages() {
					_ = m.Ack()
				}
			}
		}
	}
}

// JetStream is the API the publisher publishes through.
func (p *Publisher) JetStream() njs.JetStream { return p.js }

// Halt stops publishing and returns once the last publish has ended.
func (p *Publisher) Halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// SetPhase starts counting in a new phase.
func (p *Publisher) SetPhase(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.phase, p.phaseStart = name, time.Now()
	p.per[name] = &PubStats{FirstAck: -1}
}

// Stats is what the publisher saw in phase.
func (p *Publisher) Stats(phase string) PubStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.per[phase]; st != nil {
		return *st
	}
	return PubStats{FirstAck: -1}
}

// Total is what the publisher saw in all phases together.
func (p *Publisher) Total() PubStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	var sum PubStats
	for _, st := range p.per {
		sum.Attempts += st.Attempts
		sum.Acks += st.Acks
		if st.LastErr != "" {
			sum.LastErr = st.LastErr
		}
	}
	return sum
}

// Acked is every acknowledged sequence with its payload so far.
func (p *Publisher) Acked() map[uint64]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.acked)
}

// Count is how many messages were acknowledged so far.
func (p *Publisher) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// WaitAcked waits until n more messages than now were acknowledged: the
// stream takes writes at this point of the test.
func (p *Publisher) WaitAcked(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	want := p.Count() + n
	testwait.Eventually(t, timeout, p.Name+" takes writes", func() error {
		if got, st := p.Count(), p.Total(); got < want {
			return fmt.Errorf("%d acknowledged, want %d (last error: %s)", got, want, st.LastErr)
		}
		return nil
	})
}

// WaitPhaseAcks waits until phase has n acks.
func (p *Publisher) WaitPhaseAcks(t testing.TB, phase string, n int, timeout time.Duration) {
	t.Helper()
	testwait.Eventually(t, timeout, fmt.Sprintf("%s: %d acks (%s)", p.Name, n, phase), func() error {
		if st := p.Stats(phase); st.Acks < n {
			return fmt.Errorf("%d of %d attempts acknowledged (last error: %s)", st.Acks, st.Attempts, st.LastErr)
		}
		return nil
	})
}

// Summary says what the publisher saw in phase, for a drill's log.
func (p *Publisher) Summary(phase string) string {
	st := p.Stats(phase)
	s := fmt.Sprintf("%s: %d of %d publishes acknowledged", p.Name, st.Acks, st.Attempts)
	if st.FirstAck >= 0 {
		s += fmt.Sprintf(", the first %.1fs into the phase", st.FirstAck.Seconds())
	}
	if st.Acks < st.Attempts && st.LastErr != "" {
		s += " (failures: " + st.LastErr + ")"
	}
	return s
}

// Check stops the publisher and asserts, through its own connection, that
// every message it had acknowledged is in the stream (see
// AssertAckedPresent); it fails the test when none was acknowledged at all,
// since then nothing was proven.
func (p *Publisher) Check(t testing.TB) {
	t.Helper()
	p.Halt()
	acked, st := p.Acked(), p.Total()
	if len(acked) == 0 {
		t.Fatalf("%s: no message was acknowledged while the test ran (%d publishes failed: %s)", p.Name, st.Attempts, st.LastErr)
	}
	checked := AssertAckedPresent(t, p.js, p.Name, p.Stream, acked)
	t.Logf("%s: %d acknowledged messages, %d checked present by sequence (%d publishes failed)", p.Name, len(acked), checked, st.Attempts-st.Acks)
}

// AssertAckedPresent asserts, asking the stream leader for each sequence,
// that every acknowledged message the stream's retention and limits do not
// explain away is in the stream with its payload, and returns how many it
// checked. A work-queue or interest stream removes what was consumed by
// design: there the proof is that its last sequence is not behind the last
// acknowledged one. A stream with limits may have discarded what lies before
// its first sequence. name says whose messages they are.
func AssertAckedPresent(t testing.TB, js njs.JetStream, name, stream string, acked map[uint64]string) int {
	t.Helper()
	seqs := slices.Sorted(maps.Keys(acked))
	if len(seqs) == 0 {
		return 0
	}
	checked := 0
	testwait.Eventually(t, time.Minute, "every acknowledged message of "+name, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		if last := seqs[len(seqs)-1]; info.State.LastSeq < last {
			t.Fatalf("%s: stream %s ends at sequence %d, %d was acknowledged", name, stream, info.State.LastSeq, last)
		}
		if info.Config.Retention != njs.LimitsPolicy {
			return nil
		}
		c := info.Config
		limited := c.MaxMsgs > 0 || c.MaxBytes > 0 || c.MaxAge > 0 || c.MaxMsgsPerSubject > 0
		checked = 0
		for _, seq := range seqs {
			if limited && seq < info.State.FirstSeq {
				continue
			}
			m, err := s.GetMsg(ctx, seq)
			if errors.Is(err, njs.ErrMsgNotFound) {
				t.Fatalf("%s: acknowledged sequence %d is missing from %s", name, seq, stream)
			}
			if err != nil {
				return fmt.Errorf("get %s seq %d: %w", stream, seq, err)
			}
			if string(m.Data) != acked[seq] {
				t.Fatalf("%s: sequence %d of %s holds %q, acknowledged %q", name, seq, stream, m.Data, acked[seq])
			}
			checked++
		}
		return nil
	})
	return checked
}
