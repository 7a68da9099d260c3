package provision

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// With a trace, each phase run on a host says when it started and how long
// it took: the uploads file by file, each script with the phases it ran,
// and what went over SFTP; without one, nothing is traced.
func TestInstallTracesEachPhase(t *testing.T) {
	h := newPhaseHost(t)
	h.srv.SFTPFsync.Store(true)
	p := h.plan(t)
	c, err := h.s.Client(t.Context(), p.Node.Name)
	if err != nil {
		t.Fatal(err)
	}
	var log, trace strings.Builder
	hr := &hostRun{s: h.s, p: p, c: c, log: &lineLog{w: &log}, timeout: 10 * time.Second,
		trace: &tracer{log: &lineLog{w: &trace}, start: time.Now()}}
	if err := runPhases(t.Context(), hr, installPhases()); err != nil {
		t.Fatalf("install: %v\n%s", err, log.String())
	}
	line := regexp.MustCompile(`^` + regexp.QuoteMeta(p.Node.Name) + ` +trace +[0-9]+\.[0-9]{3} \+[0-9]+\.[0-9]{3}s (.+)$`)
	var what []string
	for _, l := range strings.Split(strings.TrimSpace(trace.String()), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("trace line %q: want the node, the start, the duration and what", l)
		}
		what = append(what, m[1])
	}
	all := strings.Join(what, "\n")
	bin := stagedBinary(p).File.Path
	for _, want := range []string{
		"upload " + bin + " (settled true, flushed false)",
		"upload the nats-server binary",
		"script: create directories",
		"over sftp: create or fix owned directories",
		"script: verify the uploaded files, check the new configuration with nats-server -t, flush the uploaded files to disk",
		"over sftp: install files",
		"script: stamp the installed files' sums",
		"end the SFTP session",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no trace of %q in:\n%s", want, all)
		}
	}
	if strings.Contains(log.String(), " trace ") {
		t.Errorf("the trace went to the operator's log:\n%s", log.String())
	}
}
