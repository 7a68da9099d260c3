package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// apiError is the error object of JetStream API and server API replies.
type apiError struct {
	Code        int    `json:"code"`
	ErrCode     uint16 `json:"err_code,omitempty"`
	Description string `json:"description,omitempty"`
}

// APIError is an error reported by a server, with its JetStream error code
// (for example 10008, "JetStream cluster not available", when a domain has no
// meta leader).
type APIError struct {
	Code        int
	ErrCode     uint16
	Description string
}

func (e *APIError) Error() string {
	if e.ErrCode != 0 {
		return fmt.Sprintf("%s (error %d)", e.Description, e.ErrCode)
	}
	return fmt.Sprintf("%s (code %d)", e.Description, e.Code)
}

// JetStream error codes we branch on.
const (
	ErrCodeClusterNotAvailable = 10008
	ErrCodeStreamNotFound      = 10059
	ErrCodeNoMessageFound      = 10037
	// ErrCodeStreamMoveInProgress: a placement change is still moving
	// replicas; the stream takes no other reconfiguration until it ends.
	ErrCodeStreamMoveInProgress = 10124
)

// IsErrCode reports whether err carries the JetStream error code.
func IsErrCode(err error, code uint16) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.ErrCode == code
}

func (e *apiError) err() error {
	if e == nil {
		return nil
	}
	return &APIError{Code: e.Code, ErrCode: e.ErrCode, Description: e.Description}
}

// apiRequest sends one request to a JetStream API subject and decodes the
// reply; an error object in the reply becomes an *APIError.
func (c *Conn) apiRequest(ctx context.Context, nc *nats.Conn, subject string, req, resp any) error {
	var body []byte
	if req != nil {
		var err error
		if body, err = json.Marshal(req); err != nil {
			return fmt.Errorf("encode request for %s: %w", subject, err)
		}
	}
	rctx, cancel := c.withTimeout(ctx)
	defer cancel()
	msg, err := nc.RequestWithContext(rctx, subject, body)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("request %s: no server answered (is JetStream up in that domain?): %w", subject, err)
		}
		return fmt.Errorf("request %s: %w", subject, err)
	}
	var envelope struct {
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &envelope); err != nil {
		return fmt.Errorf("decode reply of %s: %w", subject, err)
	}
	if envelope.Error != nil {
		return fmt.Errorf("request %s: %w", subject, envelope.Error.err())
	}
	if resp != nil {
		if err := json.Unmarshal(msg.Data, resp); err != nil {
			return fmt.Errorf("decode reply of %s: %w", subject, err)
		}
	}
	return nil
}

// apiPrefix is the JetStream API prefix addressing a domain; "" addresses the
// JetStream of whichever server the request lands on.
func apiPrefix(domain string) string {
	if domain == "" {
		return "$JS.API"
	}
	return "$JS." + domain + ".API"
}

// serverInfo identifies the server in a reply to a $SYS.REQ.SERVER request.
type serverInfo struct {
	Name    string    `json:"name"`
	Host    string    `json:"host"`
	ID      string    `json:"id"`
	Cluster string    `json:"cluster,omitempty"`
	Domain  string    `json:"domain,omitempty"`
	Version string    `json:"ver"`
	Time    time.Time `json:"time"`
}

// serverReply is the envelope of every $SYS.REQ.SERVER reply; Data is decoded
// by the caller.
type serverReply struct {
	Server serverInfo      `json:"server"`
	Data   json.RawMessage `json:"data,omitempty"`
	Error  *apiError       `json:"error,omitempty"`
}

// gather sends a request that every server answers ($SYS.REQ.SERVER.PING.*)
// and collects the replies. Nobody knows in advance how many servers are
// alive, so it stops at the first of: the request timeout, ctx ending, enough
// returning true, or c.gap passing without a new reply after the first one.
// Fewer replies than servers is a normal outcome (servers are down), not an error.
func (c *Conn) gather(ctx context.Context, subject string, req any, enough func([]serverReply) bool) ([]serverReply, error) {
	nc, err := c.sysConn()
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", subject, err)
	}
	body := []byte("{}")
	if req != nil {
		if body, err = json.Marshal(req); err != nil {
			return nil, fmt.Errorf("encode request for %s: %w", subject, err)
		}
	}
	rctx, cancel := c.withTimeout(ctx)
	defer cancel()

	inbox := nc.NewRespInbox()
	ch := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, fmt.Errorf("subscribe for replies to %s: %w", subject, err)
	}
	defer sub.Unsubscribe() //nolint:errcheck // nothing to do about it on the way out
	// No flush to wait for: while the connection is re-established after its
	// server went down, nats.go buffers the request and re-subscribes the
	// inbox, and replies still arrive within the deadline.
	if err := nc.PublishRequest(subject, inbox, body); err != nil {
		return nil, fmt.Errorf("request %s: %w", subject, err)
	}

	var replies []serverReply
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	defer idle.Stop()
	for {
		select {
		case m := <-ch:
			var r serverReply
			if err := json.Unmarshal(m.Data, &r); err != nil {
				return replies, fmt.Errorf("decode reply to %s: %w", subject, err)
			}
			replies = append(replies, r)
			if enough != nil && enough(replies) {
				return replies, nil
			}
			idle.Reset(c.gap)
		case <-idle.C:
			return replies, nil
		case <-rctx.Done():
			// The request timeout ending is how a scatter-gather ends when
			// servers are down; only the caller's own ctx is an error.
			if ctx.Err() != nil {
				return replies, fmt.Errorf("request %s: %w", subject, ctx.Err())
			}
			return replies, nil
		}
	}
}
