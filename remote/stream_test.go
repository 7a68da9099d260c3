package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testwait"
)

// A Stream is one command on the host, answering line after line in one
// session, its exit status reported at the end as Run reports it.
func TestStreamConversation(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)
	ctx := t.Context()
	s, err := c.Start(ctx, `echo hello; while read -r l; do echo "ack $l"; done; echo bye >&2; exit 3`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(ctx, "true"); !errors.Is(err, ErrStreamBusy) {
		t.Fatalf("a second stream on the client: %v, want ErrStreamBusy", err)
	}
	for _, l := range []string{"one", "two"} {
		if err := s.Send([]byte(l + "\n")); err != nil {
			t.Fatal(err)
		}
		before, err := s.Until(ctx, "ack "+l)
		if want := map[string]string{"one": "hello\n", "two": ""}[l]; err != nil || string(before) != want {
			t.Fatalf("until ack %s: %q, %v; want %q", l, before, err, want)
		}
	}
	if err := s.Send([]byte("three\n")); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := s.Finish(ctx)
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 3 || string(out) != "ack three\n" || string(stderr) != "bye\n" {
		t.Fatalf("finish: %q %q %v, want ack three, bye and exit status 3", out, stderr, err)
	}
	// The slot is free again, and commands run beside a stream.
	s, err = c.Start(ctx, `read -r l; echo "$l"`)
	if err != nil {
		t.Fatal(err)
	}
	if out, _, err := c.Run(ctx, "echo beside"); err != nil || string(out) != "beside\n" {
		t.Fatalf("run beside a stream: %q, %v", out, err)
	}
	s.Send([]byte("x\n"))
	if out, _, err := s.Finish(ctx); err != nil || string(out) != "x\n" {
		t.Fatalf("finish: %q, %v", out, err)
	}
}

// Output that ends before the awaited line is returned with io.EOF; a
// stream closed (or a client gone) ends the command's stdin, which sees EOF.
func TestStreamEndings(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)
	ctx := t.Context()
	s, err := c.Start(ctx, "echo partial; exit 0")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := s.Until(ctx, "never"); !errors.Is(err, io.EOF) || string(out) != "partial\n" {
		t.Fatalf("until a line that never comes: %q, %v", out, err)
	}
	if _, _, err := s.Finish(ctx); err != nil {
		t.Fatal(err)
	}

	mark := filepath.Join(t.TempDir(), "eof")
	s, err = c.Start(ctx, fmt.Sprintf(`echo ready; read -r l || echo eof > %s`, shellQuote(mark)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Until(ctx, "ready"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	testwait.Eventually(t, 10*time.Second, "the command sees EOF", func() error {
		_, err := os.Stat(mark)
		return err
	})
	// A cancelled wait closes the stream and says why.
	s, err = c.Start(ctx, "sleep 30")
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Until(cctx, "never"); err == nil {
		t.Fatal("until with a cancelled context: no error")
	}
	if _, _, err := s.Finish(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("finish with a cancelled context: %v", err)
	}
}
