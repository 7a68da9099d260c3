package jetstream

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"
)

// Baseline is the proof of a stream's contents: the counters the server keeps
// and a digest computed by reading every message. Two streams with equal
// baselines hold the same messages at the same sequences.
type Baseline struct {
	Stream      string `json:"stream"`
	Msgs        uint64 `json:"messages"`
	Bytes       uint64 `json:"bytes"`
	FirstSeq    uint64 `json:"first_seq"`
	LastSeq     uint64 `json:"last_seq"`
	NumSubjects uint64 `json:"num_subjects"`
	// Digest is the hex sha256 over every message in sequence order: its
	// stream sequence, subject, headers (sorted by key) and data, each
	// length-prefixed so that no two different streams hash alike by
	// shifting bytes between fields.
	Digest string `json:"sha256"`
}

// Equal returns nil when o matches b, else an error naming every difference.
// The stream name is not compared: a restored copy may be checked against a
// manifest under another name.
func (b Baseline) Equal(o Baseline) error {
	var diffs []string
	cmp := func(what string, x, y uint64) {
		if x != y {
			diffs = append(diffs, fmt.Sprintf("%s %d, expected %d", what, y, x))
		}
	}
	cmp("messages", b.Msgs, o.Msgs)
	cmp("bytes", b.Bytes, o.Bytes)
	cmp("first sequence", b.FirstSeq, o.FirstSeq)
	cmp("last sequence", b.LastSeq, o.LastSeq)
	cmp("subjects", b.NumSubjects, o.NumSubjects)
	if b.Digest != o.Digest {
		diffs = append(diffs, fmt.Sprintf("content digest %.12s…, expected %.12s…", o.Digest, b.Digest))
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("stream %s differs from its baseline: %s", o.Stream, strings.Join(diffs, "; "))
}

// ErrStreamChanged is returned by Digest when messages were added or removed
// while it read the stream, so the counters and the digest disagree.
var ErrStreamChanged = errors.New("stream changed while it was being read")

// Digest reads every message of stream (through an ephemeral ordered
// consumer, which skips deleted sequences) and returns its baseline. Messages
// published after Digest starts are ignored; the stream must not lose messages
// meanwhile (ErrStreamChanged). The consumer is R1 and in memory, so this
// works on a degraded stream as long as the domain has a meta leader.
func (c *Conn) Digest(ctx context.Context, domain, stream string) (Baseline, error) {
	st, err := c.Stream(ctx, domain, stream)
	if err != nil {
		return Baseline{}, fmt.Errorf("digest of stream %s: %w", stream, err)
	}
	b := Baseline{Stream: stream, Msgs: st.Msgs, Bytes: st.Bytes, FirstSeq: st.FirstSeq, LastSeq: st.LastSeq, NumSubjects: st.NumSubjects}
	h := sha256.New()
	if st.Msgs == 0 {
		b.Digest = hex.EncodeToString(h.Sum(nil))
		return b, nil
	}
	nc, err := c.appConn()
	if err != nil {
		return Baseline{}, fmt.Errorf("digest of stream %s: %w", stream, err)
	}
	js, err := jsContext(nc, domain)
	if err != nil {
		return Baseline{}, fmt.Errorf("digest of stream %s: %w", stream, err)
	}
	cctx, cancel := c.withTimeout(ctx)
	cons, err := js.OrderedConsumer(cctx, stream, njs.OrderedConsumerConfig{
		DeliverPolicy: njs.DeliverByStartSequencePolicy,
		OptStartSeq:   st.FirstSeq,
		// Cleans up after us if we die before deleting it.
		InactiveThreshold: time.Minute,
	})
	cancel()
	if err != nil {
		return Baseline{}, fmt.Errorf("digest of stream %s: create ordered consumer: %w", stream, err)
	}
	defer func() {
		// Best effort (the inactive threshold removes it anyway), but wait
		// for the deletion to be applied: a snapshot with consumers taken
		// right after would otherwise fail on a consumer half gone.
		dctx, cancel := c.withTimeout(context.WithoutCancel(ctx))
		defer cancel()
		name := cons.CachedInfo().Name
		if name == "" || js.DeleteConsumer(dctx, stream, name) != nil {
			return
		}
		_ = poll(dctx, func() error {
			_, err := js.Consumer(dctx, stream, name)
			if errors.Is(err, njs.ErrConsumerNotFound) {
				return nil
			}
			return errors.New("consumer still there")
		})
	}()

	var count uint64
	done := false
	var noResponders time.Time // when the current run of "no responders" began
	for !done {
		if err := ctx.Err(); err != nil {
			return Baseline{}, fmt.Errorf("digest of stream %s after %d of %d messages: %w", stream, count, st.Msgs, err)
		}
		want := min(st.Msgs-count, 1000)
		batch, err := cons.Fetch(int(want), njs.FetchMaxWait(c.timeout))
		got := 0
		if err == nil {
			for m := range batch.Messages() {
				got++
				md, merr := m.Metadata()
				if merr != nil {
					return Baseline{}, fmt.Errorf("digest of stream %s: %w", stream, merr)
				}
				seq := md.Sequence.Stream
				if seq > st.LastSeq {
					done = true
					break
				}
				hashMessage(h, seq, m.Subject(), m.Headers(), m.Data())
				count++
				if seq == st.LastSeq || count == st.Msgs {
					done = true
					break
				}
			}
			err = batch.Error()
		}
		switch {
		case errors.Is(err, nats.ErrNoResponders) && got == 0:
			// The new consumer's subscription has not reached the server
			// we are connected to yet (interest propagates asynchronously
			// over routes and leafnode links): try again for a while.
			if noResponders.IsZero() {
				noResponders = time.Now()
			}
			if time.Since(noResponders) > c.timeout {
				return Baseline{}, fmt.Errorf("digest of stream %s: fetch: %w", stream, err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(pollInterval / 5):
			}
			continue
		case err != nil && !errors.Is(err, nats.ErrTimeout):
			return Baseline{}, fmt.Errorf("digest of stream %s: fetch: %w", stream, err)
		}
		noResponders = time.Time{}
		if got == 0 {
			// Nothing more to read before LastSeq: the tail was deleted.
			done = true
		}
	}
	if count != st.Msgs {
		return Baseline{}, fmt.Errorf("digest of stream %s: read %d messages, stream reported %d: %w", stream, count, st.Msgs, ErrStreamChanged)
	}
	b.Digest = hex.EncodeToString(h.Sum(nil))
	return b, nil
}

func hashMessage(h hash.Hash, seq uint64, subject string, hdr nats.Header, data []byte) {
	var n [8]byte
	field := func(p []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	binary.BigEndian.PutUint64(n[:], seq)
	h.Write(n[:])
	field([]byte(subject))
	keys := make([]string, 0, len(hdr))
	for k := range hdr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	binary.BigEndian.PutUint64(n[:], uint64(len(keys)))
	h.Write(n[:])
	for _, k := range keys {
		field([]byte(k))
		binary.BigEndian.PutUint64(n[:], uint64(len(hdr[k])))
		h.Write(n[:])
		for _, v := range hdr[k] {
			field([]byte(v))
		}
	}
	field(data)
}

func jsContext(nc *nats.Conn, domain string) (njs.JetStream, error) {
	if domain == "" {
		return njs.New(nc)
	}
	return njs.NewWithDomain(nc, domain)
}
