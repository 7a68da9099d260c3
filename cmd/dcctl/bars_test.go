package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/dcctl/dcctl/internal/testwait"
)

// screen is a terminal stand-in that mpb and the test may use at once.
type screen struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHostBars: a bar per host for uploads and catch-ups, named after the
// host and filled as it goes; log lines written meanwhile come out whole,
// once each, and after done lines go straight through.
func TestHostBars(t *testing.T) {
	var scr screen
	bars := drawBars(&scr, mpb.WithWidth(100))

	bars.upload("edge-a", 0, 4<<20)
	bars.upload("edge-b", 1<<20, 2<<20)
	fmt.Fprintf(bars, "edge-a         uploaded nothing yet\n")
	bars.upload("edge-a", 2<<20, 4<<20)
	testwait.Eventually(t, 10*time.Second, "both upload bars drawn", func() error {
		out := scr.String()
		for _, want := range []string{"edge-a nats-server", "2.0 MiB / 4.0 MiB", "edge-b nats-server", "1.0 MiB / 2.0 MiB"} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("no %q in %q", want, out)
			}
		}
		return nil
	})

	// A replica's lag shrinking fills its bar; the largest lag is its length.
	bars.catchUp("core-2", "payments", 500)
	bars.catchUp("core-2", "payments", 120)
	testwait.Eventually(t, 10*time.Second, "catch-up bar drawn", func() error {
		if out := scr.String(); !strings.Contains(out, "core-2 stream payments") || !strings.Contains(out, "lag 120") {
			return fmt.Errorf("no catch-up bar at lag 120 in %q", out)
		}
		return nil
	})
	// A replica already caught up gets no bar.
	bars.catchUp("core-3", "payments", 0)
	bars.done()
	fmt.Fprintf(bars, "RECAP\n")

	out := scr.String()
	if n := strings.Count(out, "edge-a         uploaded nothing yet\n"); n != 1 {
		t.Errorf("the log line came out %d times:\n%s", n, out)
	}
	if strings.Contains(out, "core-3") {
		t.Errorf("a replica with no lag got a bar:\n%s", out)
	}
	if !strings.HasSuffix(out, "RECAP\n") {
		t.Errorf("a line after done did not go straight through:\n%q", out)
	}
}

// TestHostBarsOnlyOnATerminal: off a terminal (a pipe, a file, /dev/null,
// a test's buffer) there are no bars, and the run's lines stay as they are.
func TestHostBarsOnlyOnATerminal(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]io.Writer{"/dev/null": null, "a pipe": w, "a buffer": &bytes.Buffer{}} {
		if b := newHostBars(out); b != nil {
			t.Errorf("%s got bars", name)
		}
	}
	var none *hostBars
	none.done() // a run without bars ends without them
}
