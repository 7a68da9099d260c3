package status

import (
	"bytes"
	"strings"
	"testing"
)

// TestVerdictCountsInWords: the degraded verdict says "1 problem" and
// "2 problems", not "problem(s)".
func TestVerdictCountsInWords(t *testing.T) {
	for n, want := range map[int]string{1: "DEGRADED (1 problem)", 2: "DEGRADED (2 problems)"} {
		r := &Report{}
		for i := 0; i < n; i++ {
			r.Warnings = append(r.Warnings, Warning{Level: LevelDegraded, Domain: "central", Message: "something is down"})
		}
		var out bytes.Buffer
		r.Write(&out)
		if !strings.Contains(out.String(), want) {
			t.Errorf("%d degraded warnings: want %q in\n%s", n, want, out.String())
		}
	}
}
