package main

import (
	"fmt"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// The peak resident set is reached at one moment of a run; a heap profile
// written after the runs shows what was left, not what was held then. The
// watcher samples the runtime's memory every 100 ms and, at each new high
// (at most once a second, so that the profile may be of a moment up to a
// second before the high), writes the heap profile (in use at the last GC)
// and the goroutines' stacks, and keeps the breakdown of the high.

// memSample is the Go runtime's memory at one moment, in bytes.
type memSample struct {
	heapObjects, heapFree, stacks, other, goroutines uint64
}

func (m memSample) total() uint64 { return m.heapObjects + m.heapFree + m.stacks + m.other }

func (m memSample) String() string {
	mb := func(b uint64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }
	return fmt.Sprintf("%s mapped and not released: heap objects %s, heap free %s, goroutine stacks %s (%d goroutines), other %s",
		mb(m.total()), mb(m.heapObjects), mb(m.heapFree), mb(m.stacks), m.goroutines, mb(m.other))
}

var memMetrics = []string{
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/stacks:bytes",
	"/sched/goroutines:goroutines",
}

func sampleMem() memSample {
	s := make([]metrics.Sample, len(memMetrics))
	for i, n := range memMetrics {
		s[i].Name = n
	}
	metrics.Read(s)
	v := func(i int) uint64 { return s[i].Value.Uint64() }
	m := memSample{heapObjects: v(2), heapFree: v(3), stacks: v(4), goroutines: v(5)}
	if used := v(0) - v(1); used > m.heapObjects+m.heapFree+m.stacks {
		m.other = used - m.heapObjects - m.heapFree - m.stacks
	}
	return m
}

// watchHeapPeak writes file (the heap profile) and file.goroutines at the
// process's highest memory until stop, which returns that moment's
// breakdown. An empty file watches nothing.
func watchHeapPeak(file string) (stop func() string) {
	if file == "" {
		return func() string { return "" }
	}
	done, finished := make(chan struct{}), make(chan string)
	go func() {
		var peak memSample
		var written time.Time
		write := func() {
			for name, p := range map[string]string{file: "heap", file + ".goroutines": "goroutine"} {
				if f, err := os.Create(name); err == nil {
					debug := 0
					if p == "goroutine" {
						debug = 1
					}
					pprof.Lookup(p).WriteTo(f, debug)
					f.Close()
				}
			}
			written = time.Now()
		}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				finished <- peak.String()
				return
			case <-tick.C:
				if m := sampleMem(); m.total() > peak.total() {
					peak = m
					if time.Since(written) > time.Second {
						write()
					}
				}
			}
		}
	}()
	return func() string { close(done); return <-finished }
}
