package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PollInterval is how often the waits of this package ask again. Replica
// catch-up and leader elections take seconds, so a quarter second is
// responsive without flooding the API or the monitoring endpoints.
const PollInterval = 250 * time.Millisecond

// Poll runs check every interval until it returns nil or ctx ends; then it
// returns the last reason check gave (not the one of a check that ctx's end
// cut short), wrapped with ctx's error. A check that
// wraps its error with Stop ends it at once with that error. Every wait for
// a cluster to reach a state (a gate, a runbook step, a check that lets an
// election settle) is a Poll, so that they all end the same way.
func Poll(ctx context.Context, interval time.Duration, check func() error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		err := check()
		if err == nil {
			return nil
		}
		var s stopError
		if errors.As(err, &s) {
			return s.err
		}
		if ctx.Err() != nil {
			// A check cut short by ctx's end says only that; the reason
			// the one before it gave is the answer.
			if last != nil {
				err = last
			}
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// PollFor is Poll bounded by d as well as ctx: it gives up after d with
// check's last error as it is (not wrapped), for a check that only lets a
// moment pass (an election, a follower reported not current for a
// heartbeat) before its answer stands.
func PollFor(ctx context.Context, d, interval time.Duration, check func() error) error {
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var last error
	err := Poll(pctx, interval, func() error {
		err := check()
		if err != nil && pctx.Err() == nil {
			last = err
		}
		return err
	})
	if err != nil && last != nil && ctx.Err() == nil {
		return last
	}
	return err
}

// settleMargin is what a settle gives a passing state beyond its requests:
// a meta leader election after a crash takes about 4 s, a stream's 3.5 to
// 7.5 s (docs/nats-facts.md), and a healthy follower is now and then
// reported not current for a heartbeat.
const settleMargin = 5 * time.Second

// SettleWindow is how long a check that lets a passing state settle keeps
// asking: two request timeouts plus settleMargin. The first request after a
// server died can take a whole timeout (a scatter-gather waits for the
// member that does not answer; a request sent while the connection moves
// off the dead server gets no reply); a window of one timeout leaves room
// for that request only, and its answer, read in the middle of an
// election, would stand.
func SettleWindow(requestTimeout time.Duration) time.Duration {
	return 2*requestTimeout + settleMargin
}

// Settle is PollFor over c's settle window (SettleWindow of its request
// timeout): for a check whose failure may be a moment's (an election, a
// follower late by a heartbeat) before its answer stands.
func (c *Conn) Settle(ctx context.Context, check func() error) error {
	return PollFor(ctx, SettleWindow(c.timeout), PollInterval, check)
}

// stopError makes Poll give up instead of retrying.
type stopError struct{ err error }

func (s stopError) Error() string { return s.err.Error() }
func (s stopError) Unwrap() error { return s.err }

// Stop wraps err so that Poll returns it at once instead of retrying.
func Stop(err error) error {
	if err == nil {
		return nil
	}
	return stopError{err}
}
