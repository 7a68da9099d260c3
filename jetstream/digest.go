package jetstream

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/nats-io/nats.go"
)

// Baseline is the proof of a stream's contents: the counters the server keeps
// and a digest computed by reading every message. Two streams with equal
// baselines hold the same messages at the same sequences.
type Baseline struct {
	Stream string `json:"stream"`
	// Account is the stream's account ("" in a manifest of a dcctl that
	// did not record it).
	Account     string `json:"account,omitempty"`
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
	// Retention is the stream's retention when it was recorded.
	Retention string `json:"retention,omitempty"`

	// reported is the message count the server reported when Record
	// started (Msgs is the count read); hashes holds a hash of each message
	// read (not in the JSON: a journal or manifest need not carry one line
	// per message).
	reported uint64
	hashes   *msgHashes
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

// Digest reads every message of stream and returns its exact baseline: the
// server's counters and the digest agree, or it fails with ErrStreamChanged
// (messages removed while it read). Messages published after it starts are
// ignored. It is the proof a backup carries; a runbook on a live stream uses
// Record and Prove instead.
func (c *Conn) Digest(ctx context.Context, domain, stream string) (Baseline, error) {
	b, err := c.Record(ctx, domain, stream)
	if err != nil {
		return Baseline{}, err
	}
	if b.Msgs != b.reported {
		return Baseline{}, fmt.Errorf("digest of stream %s: read %d messages, stream reported %d: %w", stream, b.Msgs, b.reported, ErrStreamChanged)
	}
	return b, nil
}

// Record reads every message of stream from its first to its last sequence
// as the stream reports them when Record starts, and returns the baseline
// (Msgs: the messages read) with a hash of each message read, so that Prove
// can later compare any part of that range. It never fails because the
// stream changes while it reads:
// messages published meanwhile are past the range, and messages removed
// meanwhile (a limit discarding the oldest, a consumer of a work queue)
// are simply not in the baseline; FirstSeq is then the first one read.
// It works on every retention and on a degraded stream that has a leader.
func (c *Conn) Record(ctx context.Context, domain, stream string) (Baseline, error) {
	st, err := c.Stream(ctx, domain, stream)
	if err != nil {
		return Baseline{}, fmt.Errorf("digest of stream %s: %w", stream, err)
	}
	b := Baseline{Stream: stream, Account: c.account, Msgs: st.Msgs, Bytes: st.Bytes, FirstSeq: st.FirstSeq, LastSeq: st.LastSeq, NumSubjects: st.NumSubjects,
		Retention: st.Retention, hashes: &msgHashes{}}
	h := sha256.New()
	if st.Msgs > 0 {
		one := sha256.New()
		both := io.MultiWriter(h, one)
		var sum [sha256.Size]byte
		err = c.readRange(ctx, domain, stream, st.FirstSeq, st.LastSeq, func(seq uint64, subject string, hdr nats.Header, data []byte) error {
			one.Reset()
			hashMessage(both, seq, subject, hdr, data)
			b.hashes.add(seq, binary.BigEndian.Uint64(one.Sum(sum[:0])))
			return nil
		})
		if err != nil {
			return Baseline{}, fmt.Errorf("digest of stream %s: %w", stream, err)
		}
	}
	// The baseline is what was read: the digest covers exactly these.
	b.reported, b.Msgs = st.Msgs, uint64(b.hashes.count())
	if len(b.hashes.runs) > 0 {
		b.FirstSeq = b.hashes.runs[0].first
	}
	b.Digest = hex.EncodeToString(h.Sum(nil))
	return b, nil
}

func hashMessage(h io.Writer, seq uint64, subject string, hdr nats.Header, data []byte) {
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
