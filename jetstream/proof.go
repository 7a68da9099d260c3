package jetstream

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
)

// What a Proof proved. A stream that takes writes while a runbook works
// grows past its baseline; which of the recorded messages can still be read
// afterwards depends on the stream, and the proof says which case it was.
const (
	// ProofRange: every message of the recorded range is there, unchanged
	// (the digest of the range is equal); messages after it are growth.
	ProofRange = "range-digest"
	// ProofSurvivingRange: the stream's own limits (max_msgs, max_bytes,
	// max_age; max_msgs_per_subject) discarded some of the recorded
	// messages; every one still there is unchanged.
	ProofSurvivingRange = "surviving-range-digest"
	// ProofLastSeq: the last sequence is not behind the recorded one, and
	// the runbook's check before this one found the replicas current. Used
	// for a work-queue or interest stream whose consumers removed recorded
	// messages, which cannot be read again (every recorded message still
	// there is also compared), and by runbooks that move no data (a restart)
	// and take no digest (Digest empty).
	ProofLastSeq = "last-seq-and-replicas-current"
)

// Proof is the outcome of Prove: which proof held, over which range.
type Proof struct {
	Stream  string `json:"stream"`
	Account string `json:"account,omitempty"`
	Kind    string `json:"kind"`
	// From and To are the part of the recorded range that was compared.
	From uint64 `json:"from_seq"`
	To   uint64 `json:"to_seq"`
	// Verified messages were read again and are unchanged.
	Verified uint64 `json:"verified"`
	// Gone counts recorded messages no longer there for the reason Kind
	// names (discarded by a limit, consumed).
	Gone uint64 `json:"gone,omitempty"`
	// LastSeq is the stream's last sequence now; LastSeq-To messages came
	// after the baseline.
	LastSeq uint64 `json:"last_seq"`
	// Digest is the sha256 over the sequence and hash of each verified
	// message: the same for the baseline and the stream now.
	Digest string `json:"sha256"`
}

func (p Proof) String() string {
	if p.Digest == "" {
		return fmt.Sprintf("%s: last sequence %d not behind %d, %d published since (no digest taken)", p.Kind, p.LastSeq, p.To, p.LastSeq-p.To)
	}
	s := fmt.Sprintf("%s: %d messages of %d..%d unchanged", p.Kind, p.Verified, p.From, p.To)
	if p.From > p.To {
		s = fmt.Sprintf("%s: no recorded message left to compare", p.Kind)
	}
	switch p.Kind {
	case ProofSurvivingRange:
		s += fmt.Sprintf(", %d discarded by the stream's limits", p.Gone)
	case ProofLastSeq:
		s += fmt.Sprintf(", %d consumed; last sequence %d not behind %d", p.Gone, p.LastSeq, p.To)
	}
	if p.LastSeq > p.To {
		s += fmt.Sprintf(", %d published since", p.LastSeq-p.To)
	}
	if p.Verified > 0 {
		s += fmt.Sprintf(" (sha256 %.12s…)", p.Digest)
	}
	return s
}

// Prove reads stream again and proves the recorded range of before intact,
// allowing growth: the last sequence must not be behind the recorded one,
// and every recorded message still in the stream must be unchanged. A
// recorded message that is gone fails the proof unless the stream's
// retention or limits explain it (Kind says which); a message missing in
// the middle of a plain limits stream, or the oldest gone from a stream
// without a limit that discards, is lost data.
//
// A baseline without per-message hashes (a backup's manifest) is compared
// whole: the recorded range must hold exactly its messages.
func (c *Conn) Prove(ctx context.Context, domain, stream string, before Baseline) (Proof, error) {
	cur, err := c.Stream(ctx, domain, stream)
	if err != nil {
		return Proof{}, fmt.Errorf("prove stream %s: %w", stream, err)
	}
	if cur.LastSeq < before.LastSeq {
		return Proof{}, fmt.Errorf("stream %s: last sequence %d is behind the recorded %d: acknowledged messages are gone (or the stream was recreated)", stream, cur.LastSeq, before.LastSeq)
	}
	if before.hashes == nil {
		return c.proveWhole(ctx, domain, stream, before, cur)
	}
	from := max(before.FirstSeq, cur.FirstSeq)
	now := &msgHashes{}
	one := sha256.New()
	var sum [sha256.Size]byte
	err = c.readRange(ctx, domain, stream, from, before.LastSeq, func(seq uint64, subject string, hdr nats.Header, data []byte) error {
		one.Reset()
		hashMessage(one, seq, subject, hdr, data)
		now.add(seq, binary.BigEndian.Uint64(one.Sum(sum[:0])))
		return nil
	})
	if err != nil {
		return Proof{}, fmt.Errorf("prove stream %s: %w", stream, err)
	}
	// The head after the read: what went below it while we read went by the
	// stream's own doing, like everything before it.
	after, err := c.Stream(ctx, domain, stream)
	if err != nil {
		return Proof{}, fmt.Errorf("prove stream %s: %w", stream, err)
	}
	p := Proof{Stream: stream, Account: c.account, From: from, To: before.LastSeq, LastSeq: after.LastSeq}
	var changed, middle []uint64
	d := sha256.New()
	var n [16]byte
	before.hashes.each(func(seq, want uint64) {
		got, ok := now.get(seq)
		switch {
		case ok && got == want:
			p.Verified++
			binary.BigEndian.PutUint64(n[:8], seq)
			binary.BigEndian.PutUint64(n[8:], want)
			d.Write(n[:])
		case ok:
			changed = append(changed, seq)
		case seq < after.FirstSeq:
			p.Gone++
		default:
			middle = append(middle, seq)
		}
	})
	p.Digest = hex.EncodeToString(d.Sum(nil))
	p.From = max(from, after.FirstSeq)
	if len(changed) > 0 {
		return p, fmt.Errorf("stream %s: %d recorded messages differ from the baseline (sequences %s): their content changed", stream, len(changed), seqList(changed))
	}
	consumed := cur.Retention == "workqueue" || cur.Retention == "interest"
	switch {
	case consumed:
		p.Gone += uint64(len(middle))
		if p.Gone > 0 {
			p.Kind = ProofLastSeq
			return p, nil
		}
	case len(middle) > 0 && cur.Limits.MaxPerSubject > 0:
		// Older messages of a subject go when a newer one arrives.
		p.Gone += uint64(len(middle))
	case len(middle) > 0:
		return p, fmt.Errorf("stream %s lost %d acknowledged messages of the recorded range %d..%d (sequences %s) while it still holds the messages around them: nothing in its configuration removes them (a delete by a client, or lost data); compare with the journal's baseline",
			stream, len(middle), before.FirstSeq, before.LastSeq, seqList(middle))
	case p.Gone > 0 && !cur.Limits.DiscardsOldest() && cur.Limits.MaxPerSubject <= 0:
		return p, fmt.Errorf("stream %s lost its %d oldest recorded messages (first sequence now %d, recorded %d) and has no limit that discards them: lost data or a purge; compare with the journal's baseline",
			stream, p.Gone, after.FirstSeq, before.FirstSeq)
	}
	p.Kind = ProofRange
	if p.Gone > 0 {
		p.Kind = ProofSurvivingRange
	}
	return p, nil
}

// proveWhole compares the recorded range as a whole with a baseline that has
// no per-message hashes: its digest and message count must be equal.
func (c *Conn) proveWhole(ctx context.Context, domain, stream string, before Baseline, cur *StreamState) (Proof, error) {
	h := sha256.New()
	var read uint64
	err := c.readRange(ctx, domain, stream, before.FirstSeq, before.LastSeq, func(seq uint64, subject string, hdr nats.Header, data []byte) error {
		hashMessage(h, seq, subject, hdr, data)
		read++
		return nil
	})
	if err != nil {
		return Proof{}, fmt.Errorf("prove stream %s: %w", stream, err)
	}
	p := Proof{Stream: stream, Account: c.account, Kind: ProofRange, From: before.FirstSeq, To: before.LastSeq, Verified: read, LastSeq: cur.LastSeq, Digest: hex.EncodeToString(h.Sum(nil))}
	var diffs []string
	if read != before.Msgs {
		diffs = append(diffs, fmt.Sprintf("messages %d, expected %d", read, before.Msgs))
	}
	if p.Digest != before.Digest {
		diffs = append(diffs, fmt.Sprintf("content digest %.12s…, expected %.12s…", p.Digest, before.Digest))
	}
	if len(diffs) > 0 {
		p.Verified = 0
		return p, fmt.Errorf("stream %s: the recorded range %d..%d differs: %s", stream, before.FirstSeq, before.LastSeq, strings.Join(diffs, "; "))
	}
	return p, nil
}

// seqList shows the first few sequences of a list.
func seqList(seqs []uint64) string {
	var parts []string
	for i, s := range seqs {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("and %d more", len(seqs)-i))
			break
		}
		parts = append(parts, fmt.Sprint(s))
	}
	return strings.Join(parts, ", ")
}
