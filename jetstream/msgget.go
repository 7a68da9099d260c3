package jetstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// storedMsg is one message as STREAM.MSG.GET returns it.
type storedMsg struct {
	Subject string `json:"subject"`
	Seq     uint64 `json:"seq"`
	Header  []byte `json:"hdrs,omitempty"`
	Data    []byte `json:"data,omitempty"`
}

// getWindow is how many STREAM.MSG.GET requests readRange keeps in flight:
// one request per message, so the round trip, not the server, bounds the
// speed of a read.
const getWindow = 64

// readRange calls fn for every message of stream with a sequence in
// [from, to], in sequence order. It asks the stream leader for each sequence
// with STREAM.MSG.GET: unlike a consumer this works on every retention
// (work-queue streams refuse a second consumer; on an interest stream a
// consumer would be interest), changes nothing, and a message that is gone
// (deleted, consumed, discarded by a limit while we read) is simply a
// sequence without a message.
func (c *Conn) readRange(ctx context.Context, domain, stream string, from, to uint64, fn func(seq uint64, subject string, hdr nats.Header, data []byte) error) error {
	if from == 0 {
		from = 1
	}
	if to < from {
		return nil
	}
	nc, err := c.appConn()
	if err != nil {
		return err
	}
	subject := apiPrefix(domain) + ".STREAM.MSG.GET." + stream
	type result struct {
		msg *storedMsg
		err error
	}
	results := make([]result, getWindow)
	for start := from; start <= to; {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read stream %s at sequence %d of %d..%d: %w", stream, start, from, to, err)
		}
		n := int(min(uint64(getWindow), to-start+1))
		done := make(chan int, n)
		for i := range n {
			go func() {
				m, err := c.getMsg(ctx, nc, subject, start+uint64(i))
				results[i] = result{m, err}
				done <- i
			}()
		}
		for i := 0; i < n; i++ {
			<-done
		}
		for i := 0; i < n; i++ {
			r := results[i]
			if r.err != nil {
				return fmt.Errorf("read stream %s: %w", stream, r.err)
			}
			if r.msg == nil {
				continue
			}
			var hdr nats.Header
			if len(r.msg.Header) > 0 {
				if hdr, err = nats.DecodeHeadersMsg(r.msg.Header); err != nil {
					return fmt.Errorf("read stream %s: headers of sequence %d: %w", stream, r.msg.Seq, err)
				}
			}
			if err := fn(r.msg.Seq, r.msg.Subject, hdr, r.msg.Data); err != nil {
				return err
			}
		}
		start += uint64(n)
	}
	return nil
}

// getMsg fetches the message at seq; nil when there is none. A request that
// fails otherwise (a leader election, a reconnect) is tried again for the
// settle window: one request can take a whole timeout.
func (c *Conn) getMsg(ctx context.Context, nc *nats.Conn, subject string, seq uint64) (*storedMsg, error) {
	req := struct {
		Seq uint64 `json:"seq"`
	}{seq}
	var resp struct {
		Message *storedMsg `json:"message"`
	}
	var msg *storedMsg
	err := c.Settle(ctx, func() error {
		err := c.apiRequest(ctx, nc, subject, req, &resp)
		switch {
		case err == nil:
			msg = resp.Message
			return nil
		case IsErrCode(err, ErrCodeNoMessageFound):
			msg = nil
			return nil
		case IsErrCode(err, ErrCodeStreamNotFound):
			return Stop(err)
		}
		var ae *APIError
		if errors.As(err, &ae) && ae.ErrCode != ErrCodeClusterNotAvailable && ae.Code != 503 {
			return Stop(err)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sequence %d: %w", seq, err)
	}
	return msg, nil
}
