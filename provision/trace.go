package provision

import (
	"fmt"
	"time"
)

// tracer writes one line per phase run on a host: when it started (seconds
// since Apply started) and how long it took. It is for finding where a
// run's time goes (DCCTL_TRACE=1), not for the operator.
type tracer struct {
	log   *lineLog
	start time.Time
}

// done says that what, on node, started at t0 and ended now. A nil tracer
// says nothing.
func (t *tracer) done(node, what string, t0 time.Time) {
	if t == nil {
		return
	}
	t.log.say(node, fmt.Sprintf("trace %7.3f +%.3fs %s", t0.Sub(t.start).Seconds(), time.Since(t0).Seconds(), what))
}
