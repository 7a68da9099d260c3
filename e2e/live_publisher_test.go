package e2e

import (
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testcluster"
)

// livePublisher is a client publishing with acks to a stream every 20 ms
// while a drill runs, as production clients do; it remembers every
// acknowledged sequence and payload so that the drill can check none of them
// went missing.
type livePublisher struct {
	*testcluster.Publisher
}

// publishLive starts publishing to subjects under prefix (e.g. "foo.live.")
// until check or the end of the test.
func (d *drillLab) publishLive(domain, stream, prefix string) *livePublisher {
	return &livePublisher{testcluster.StartPublisher(d.t, d.js(domain), stream, stream, testcluster.PublishOptions{Prefix: prefix})}
}

// waitAcked waits until n more messages than now were acknowledged: the
// stream is being written to at this point of the drill.
func (p *livePublisher) waitAcked(t *testing.T, n int) { p.WaitAcked(t, n, time.Minute) }

// check stops the publisher and asserts that every acknowledged message is
// in the stream with its payload, asking the stream leader for each one.
func (p *livePublisher) check(t *testing.T) { p.Check(t) }
