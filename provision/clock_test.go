package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/inventory"
)

func TestClockOffset(t *testing.T) {
	sent := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	received := sent.Add(800 * time.Millisecond)
	for _, tc := range []struct {
		host time.Time
		want time.Duration
	}{
		{sent.Add(300 * time.Millisecond), 0}, // within the round trip
		{received.Add(42 * time.Second), 42 * time.Second},
		{sent.Add(-190 * time.Second), -190 * time.Second},
	} {
		if got := ClockOffset(tc.host, sent, received); got != tc.want {
			t.Errorf("host at %v: offset %v, want %v", tc.host.Sub(sent), got, tc.want)
		}
	}
	for d, want := range map[time.Duration]string{
		42 * time.Second:               "42 s ahead of this machine's",
		-190 * time.Second:             "3 min 10 s behind this machine's",
		-(2*time.Hour + 5*time.Minute): "2 h 5 min behind this machine's",
	} {
		if got := DescribeClockOffset(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

// TestHostClockOff: a host whose clock is off, as the facts script reads
// it, is named in provision's warning with by how much; hosts within the
// limit and hosts whose clock was not read are not.
func TestHostClockOff(t *testing.T) {
	dir := t.TempDir()
	realStat, err := exec.LookPath("stat")
	if err != nil {
		t.Fatal(err)
	}
	// A stat that reports /proc/self/ 5 minutes ahead: the host's clock.
	shims := filepath.Join(dir, "shims")
	os.Mkdir(shims, 0o755)
	os.WriteFile(filepath.Join(shims, "stat"), []byte("#!/bin/sh\n"+realStat+` "$@" | awk '$NF == "/proc/self/" { split($1, f, ":"); split(f[2], s, "."); $1 = f[1] ":" (s[1] + 300) "." s[2] ":" f[3] ":" f[4] } { print }'`+"\n"), 0o755)
	script := factsScript("root", "dcctl-test-no-such-unit", filepath.Join(dir, "marker"), filepath.Join(dir, "sums"), filepath.Join(dir, "stopped"), nil, []string{dir})
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+shims+":"+os.Getenv("PATH"))
	sent := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("facts script: %v", err)
	}
	f, err := parseFacts(string(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	f.ClockOffset = ClockOffset(f.Clock, sent, time.Now())
	if f.ClockOffset < 290*time.Second || f.ClockOffset > 301*time.Second {
		t.Fatalf("offset %v from:\n%s", f.ClockOffset, out)
	}
	plans := []*HostPlan{
		{Node: &inventory.Node{Name: "far-off", Host: "10.9.8.7"}, Facts: f},
		{Node: &inventory.Node{Name: "in-time", Host: "10.9.8.6"}, Facts: &Facts{Clock: time.Now(), ClockOffset: 2 * time.Second}},
		{Node: &inventory.Node{Name: "unread", Host: "10.9.8.5"}, Facts: &Facts{ClockOffset: time.Hour}},
		{Node: &inventory.Node{Name: "unreachable", Host: "10.9.8.4"}},
	}
	w := ClockWarnings(plans)
	if !strings.Contains(w, "far-off (10.9.8.7) 5 min 0 s ahead of this machine's") && !strings.Contains(w, "far-off (10.9.8.7) 4 min 5") {
		t.Errorf("warning %q does not name far-off and by how much", w)
	}
	for _, n := range []string{"in-time", "unread", "unreachable"} {
		if strings.Contains(w, n) {
			t.Errorf("warning %q names %s", w, n)
		}
	}
	if ClockWarnings(plans[1:]) != "" {
		t.Errorf("a warning without a host off")
	}
}
