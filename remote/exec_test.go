package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testwait"
)

func itoa(n int) string { return strconv.Itoa(n) }

func TestRunReturnsOutputAndExitErrors(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)

	out, errOut, err := c.Run(t.Context(), "echo out; echo err >&2")
	if err != nil || string(out) != "out\n" || string(errOut) != "err\n" {
		t.Fatalf("Run = %q, %q, %v; want out, err, nil", out, errOut, err)
	}

	_, _, err = c.Run(t.Context(), "echo 'no such unit' >&2; exit 3")
	var exitErr *ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("failing command: got %v, want *ExitError", err)
	}
	if exitErr.Code != 3 || string(exitErr.Stderr) != "no such unit\n" || exitErr.Host != c.Name() {
		t.Fatalf("ExitError = %+v, want code 3 and the stderr", exitErr)
	}
	for _, want := range []string{c.Name(), "status 3", "no such unit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestRunQuotesCommandsForSh(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)
	// Single quotes, expansions and newlines must reach sh as written.
	cmd := "x='it'\"'\"'s'; printf '%s|%s\\n' \"$x\" '$HOME'\necho second"
	out, _, err := c.Run(t.Context(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	if want := "it's|$HOME\nsecond\n"; string(out) != want {
		t.Fatalf("output %q, want %q", out, want)
	}
}

func TestRunInputFeedsStdin(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)
	out, _, err := c.RunInput(t.Context(), "tr a-z A-Z", strings.NewReader("secret"))
	if err != nil || string(out) != "SECRET" {
		t.Fatalf("RunInput = %q, %v", out, err)
	}
}

func TestRunCancelStopsTheRemoteCommand(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)
	pidFile := filepath.Join(e.dir, "pid")
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()

	// The remote command would run for an hour: a Run that waited for it
	// instead of its ctx would trip the watchdog below (a hang guard far
	// beyond the 300ms deadline, not a measure of speed), and one that
	// left it running fails the check on its pid.
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Run(ctx, "echo $$ > "+shellQuote(pidFile)+"; exec sleep 3600")
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after its deadline: it waits for the remote command")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run after the deadline: got %v, want DeadlineExceeded", err)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	testwait.Eventually(t, testwait.Converge, "the remote sleep to end", func() error {
		if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
			return fmt.Errorf("pid %d: kill -0: %v", pid, err)
		}
		return nil
	})

	// The connection is still good for the next command.
	if out, _, err := c.Run(t.Context(), "echo ok"); err != nil || string(out) != "ok\n" {
		t.Fatalf("Run after a cancelled Run = %q, %v", out, err)
	}
}

func TestRunIsSafeForConcurrentUse(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)
	const n = 3 * maxSessions // more than one connection may carry at once
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, _, err := c.Run(t.Context(), "echo "+itoa(i))
			if err == nil && string(out) != itoa(i)+"\n" {
				err = errors.New("wrong output " + string(out))
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("run %d: %v", i, err)
		}
	}
}

// The wrapping is checked by running it through a real local sh: what a
// remote login shell would receive, minus the network.
func TestWrapCommand(t *testing.T) {
	cmd := "printf '%s\\n' \"a b\" 'c'\"'\"'d' $((1+1))"
	if got, want := wrapCommand("id -u", true), "sudo -n sh -c 'id -u'"; got != want {
		t.Fatalf("wrapCommand(sudo) = %q, want %q", got, want)
	}
	out, err := exec.Command("sh", "-c", wrapCommand(cmd, false)).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "a b\nc'd\n2\n"; string(out) != want {
		t.Fatalf("wrapped command printed %q, want %q", out, want)
	}
}
