package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"
)

// uploadMeter draws one line of upload progress on a terminal: the bytes
// sent to every host together and the hosts still sending. Off a terminal
// it draws nothing; provision's log lines say when each upload ends.
type uploadMeter struct {
	w       io.Writer
	mu      sync.Mutex
	written map[string]int64
	total   map[string]int64
	last    time.Time
	drawn   bool
}

func newUploadMeter(w io.Writer) *uploadMeter {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return nil
	}
	return &uploadMeter{w: w, written: map[string]int64{}, total: map[string]int64{}}
}

// update records one host's progress and redraws at most 5 times a second.
func (m *uploadMeter) update(node string, written, total int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.written[node], m.total[node] = written, total
	if time.Since(m.last) < 200*time.Millisecond && written < total {
		return
	}
	m.last = time.Now()
	var sent, all int64
	var busy []string
	for n, t := range m.total {
		sent += m.written[n]
		all += t
		if m.written[n] < t {
			busy = append(busy, n)
		}
	}
	sort.Strings(busy)
	line := fmt.Sprintf("uploading nats-server: %.0f/%.0f MB to %d host(s)", float64(sent)/1e6, float64(all)/1e6, len(m.total))
	if len(busy) > 0 && len(busy) <= 4 {
		line += fmt.Sprintf(", waiting on %v", busy)
	}
	fmt.Fprintf(m.w, "\r\033[K%s", line)
	m.drawn = true
}

// done clears the progress line so that log lines follow cleanly.
func (m *uploadMeter) done() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.drawn {
		fmt.Fprint(m.w, "\r\033[K")
	}
}

// Write passes log lines through, clearing the progress line first so the
// two never share a line; the next update redraws it below.
func (m *uploadMeter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.drawn {
		fmt.Fprint(m.w, "\r\033[K")
		m.drawn = false
	}
	return m.w.Write(p)
}
