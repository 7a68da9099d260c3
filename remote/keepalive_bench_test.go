package remote

import (
	"syscall"
	"testing"
	"time"
)

// BenchmarkDialKeepAlive dials and closes a client with the default
// keepalive, and reports the process's CPU per dial (both SSH ends: the
// server is in this process too) beside the wall time: the keepalive's
// share of a dial is what changes between a goroutine and a timer.
func BenchmarkDialKeepAlive(b *testing.B) {
	e := newTestEnv(b)
	e.trust(b, e.srv)
	cfg := e.config(e.srv)
	cfg.KeepAlive = 15 * time.Second
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c0 := cpu()
	for b.Loop() {
		c, err := Dial(b.Context(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.ReportMetric(float64(cpu()-c0)/float64(b.N), "cpu-ns/op")
}
