package testcluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testwait"
)

// settling are the answers a just-formed or just-restarted cluster gives
// before it can place a stream, and which it stops giving by itself: a meta
// leader that has not caught up its group yet (10008), one that has not
// heard every server's tags yet and finds no peers for a placement (10005),
// an election under way (no responders, timeouts).
var settling = []njs.ErrorCode{10005, 10008}

func isSettling(err error) bool {
	var apiErr *njs.APIError
	if errors.As(err, &apiErr) {
		for _, code := range settling {
			if apiErr.ErrorCode == code {
				return true
			}
		}
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, njs.ErrNoStreamResponse)
}

// CreateStream creates cfg through js, asking again while the cluster is
// still settling, and fails the test on any other error or once timeout has
// passed. A create repeated after a lost answer is harmless: JetStream
// accepts the same config again.
func CreateStream(t testing.TB, js njs.JetStream, cfg njs.StreamConfig, timeout time.Duration) njs.Stream {
	t.Helper()
	var s njs.Stream
	testwait.Eventually(t, timeout, fmt.Sprintf("create stream %s", cfg.Name), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		s, err = js.CreateStream(ctx, cfg)
		if err != nil && !isSettling(err) {
			t.Fatalf("create stream %s: %v", cfg.Name, err)
		}
		return err
	})
	return s
}
