package status

import (
	"strings"
	"testing"
)

// TestHostTableSilentButRunning: a server that NATS from here did not reach
// but whose own monitoring port answered runs (behind a cut between DCs, as
// an audit saw a whole DC listed OFFLINE): the table says so; one that
// answered nowhere stays OFFLINE.
func TestHostTableSilentButRunning(t *testing.T) {
	d := &Domain{Servers: []*Server{
		{Name: "far-1", Host: "10.0.2.1", DC: "far", Unit: "active", Monitoring: "answered"},
		{Name: "far-2", Host: "10.0.2.2", DC: "far", Unit: "inactive", Monitoring: "silent"},
	}}
	var b strings.Builder
	d.hostTable().write(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		switch {
		case strings.Contains(line, "far-1") && !strings.Contains(line, "not reached, runs"):
			t.Errorf("running server not reached shown as: %s", line)
		case strings.Contains(line, "far-2") && !strings.Contains(line, "OFFLINE"):
			t.Errorf("silent server shown as: %s", line)
		}
	}
}
