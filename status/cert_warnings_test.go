package status

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/jetstream"
)

// TestCertWarnings: a certificate that ended degrades the report, one that
// ends within 30 days is a notice, a later one and a server without TLS
// say nothing.
func TestCertWarnings(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		end   time.Time
		level string
		text  string
	}{
		{now.Add(-time.Hour), LevelDegraded, "ended 2029-12-31"},
		{now.Add(10 * 24 * time.Hour), LevelNotice, "in 10 days"},
		{now.Add(60 * 24 * time.Hour), "", ""},
		{time.Time{}, "", ""},
	} {
		var got []Warning
		add := func(level, domain, format string, a ...any) {
			got = append(got, Warning{Level: level, Domain: domain})
			got[len(got)-1].Message = strings.TrimSpace(fmt.Sprintf(format, a...))
		}
		certWarnings(now, &Domain{Name: "d"}, &Server{Name: "node-x", NATS: &jetstream.Server{CertNotAfter: tc.end}}, add)
		switch {
		case tc.level == "" && len(got) != 0:
			t.Errorf("end %v: %v, want nothing", tc.end, got)
		case tc.level != "" && (len(got) != 1 || got[0].Level != tc.level || !strings.Contains(got[0].Message, tc.text) || !strings.Contains(got[0].Message, "node-x")):
			t.Errorf("end %v: %v, want %s saying %q", tc.end, got, tc.level, tc.text)
		}
	}
}
