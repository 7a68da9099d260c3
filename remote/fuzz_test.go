package remote

import (
	"strings"
	"testing"
)

// FuzzExitError: whatever a host prints on stderr and whatever the command
// was, the error text stays bounded (a runaway stderr must not flood the
// recap), names the host, and shows the command on one line.
func FuzzExitError(f *testing.F) {
	f.Add("bb_emea_1", "systemctl restart nats-server", 1, "", []byte("Job for nats-server.service failed.\n"))
	f.Add("n", "line1\nline2", -1, "KILL", []byte(strings.Repeat("x", 5000)))
	f.Add("n", strings.Repeat("é", 100), 65, "", []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, host, cmd string, code int, signal string, stderr []byte) {
		if len(host) > 64 || len(signal) > 16 {
			return
		}
		e := &ExitError{Host: host, Cmd: cmd, Code: code, Signal: signal, Stderr: stderr}
		msg := e.Error()
		if !strings.HasPrefix(msg, host+": command ") {
			t.Fatalf("message does not start with the host: %q", msg)
		}
		// summarize: first line, 80 bytes, %q-quoted (at most 10 bytes per
		// byte for \U escapes), plus the status and 2000 bytes of stderr.
		if max := len(host) + 80*10 + 100 + len(signal) + 2003 + 2; len(msg) > max {
			t.Fatalf("message of %d bytes, bound %d", len(msg), max)
		}
		if s := summarize(cmd); strings.ContainsAny(s, "\n\r") {
			t.Fatalf("summary spans lines: %q", s)
		}
		_ = sudoRefused(e)
	})
}
