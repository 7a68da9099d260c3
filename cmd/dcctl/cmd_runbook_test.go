package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/runbooks"
)

// TestRunbookCLI runs the runbook commands end to end against an embedded
// deployment (NATS reached with --direct): exit codes, the confirmation rule
// and the output an operator sees.
func TestRunbookCLI(t *testing.T) {
	spec := testcluster.Seed()
	spec.Clusters = spec.Clusters[:2] // BB, US
	inv := testcluster.WriteInventory(t, spec)
	c := testcluster.Start(t, inv)
	_, pass := c.AppUser() // must never be printed
	js := c.JetStream(t, "us")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	testcluster.CreateStream(t, js, njs.StreamConfig{Name: "orders", Subjects: []string{"orders.>"}, Replicas: 1}, time.Minute)
	testcluster.Publish(t, js, "orders", 50)
	// No host of this deployment answers over SSH (its nodes are in-process
	// servers), so no deployment lock can be taken: a runbook refuses unless
	// told to run without it.
	if _, errOut, code := runCLI(t, "runbook", "expand-stream", "orders", "--domain", "us", "-i", inv, "--direct", "--ssh-timeout", "2s"); code != 2 ||
		!strings.Contains(errOut, "majority of cluster US's hosts: 0 of 3 answered") || !strings.Contains(errOut, "--without-lock") {
		t.Fatalf("expand-stream without a lockable majority: exit %d\n%s", code, errOut)
	}
	common := []string{"-i", inv, "--direct", "--ssh-timeout", "2s", "--timeout", "60s", "--without-lock"}
	cli := func(args ...string) (string, string, int) {
		t.Helper()
		out, errOut, code := runCLI(t, append(args, common...)...)
		t.Logf("dcctl %s -> %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		if strings.Contains(out+errOut, pass) {
			t.Fatal("a password was printed")
		}
		return out, errOut, code
	}

	if out, _, code := runCLI(t, "runbook", "list"); code != 0 || !strings.Contains(out, "replace-peer NODE") || !strings.Contains(out, "rolling-restart") {
		t.Fatalf("runbook list: exit %d\n%s", code, out)
	}
	if _, errOut, code := cli("runbook", "expand-stream", "nope", "--domain", "us"); code != 2 || !strings.Contains(errOut, "no stream nope") {
		t.Fatalf("expand-stream of a missing stream: exit %d", code)
	}
	// --json: stdout carries the journal's entries alone, one JSON line
	// each, from the run's start to its end; the log goes to stderr.
	out, errOut, code := cli("runbook", "expand-stream", "orders", "--domain", "us", "--dry-run", "--json")
	if code != 0 || !strings.Contains(errOut, "pre-checks:") {
		t.Fatalf("expand-stream --dry-run --json: exit %d", code)
	}
	var entries []runbooks.Entry
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e runbooks.Entry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("--json printed a line that is not a journal entry: %q: %v", l, err)
		}
		entries = append(entries, e)
	}
	if first, last := entries[0], entries[len(entries)-1]; len(entries) < 3 || first.Phase != "run" || first.Result != "started" ||
		last.Phase != "run" || last.Result != "done" || entries[1].Phase != "pre-check" {
		t.Fatalf("--json entries are not the run's journal: %+v", entries)
	}
	if out, _, code := cli("runbook", "expand-stream", "orders", "--domain", "us"); code != 0 || !strings.Contains(out, "done: expand-stream") {
		t.Fatalf("expand-stream: exit %d", code)
	}
	if _, errOut, code := cli("runbook", "replace-peer", "us_1"); code != 2 || !strings.Contains(errOut, "is not down") {
		t.Fatalf("replace-peer of a live node: exit %d", code)
	}
	dir := filepath.Join(t.TempDir(), "orders")
	if out, _, code := cli("backup", "orders", "--domain", "us", "--out", dir); code != 0 || !strings.Contains(out, "done: backup") {
		t.Fatalf("backup: exit %d", code)
	}
	// The backup runbook is also found among the runbooks.
	if out, _, code := cli("runbook", "backup", "orders", "--domain", "us", "--out", filepath.Join(t.TempDir(), "again"), "--json"); code != 0 ||
		!strings.Contains(out, `"runbook":"backup"`) || !strings.Contains(out, `"result":"done"`) {
		t.Fatalf("runbook backup: exit %d", code)
	}
	// and by the name that pairs it with restore-stream.
	if out, _, code := cli("runbook", "backup-stream", "orders", "--domain", "us", "--out", filepath.Join(t.TempDir(), "third")); code != 0 || !strings.Contains(out, "done: backup") {
		t.Fatalf("runbook backup-stream: exit %d", code)
	}
	if err := js.DeleteStream(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	// Restoring creates a stream that captures live messages: without a
	// terminal and without --yes it is refused before anything changes.
	if _, errOut, code := cli("runbook", "restore-stream", "--from", dir); code != 2 || !strings.Contains(errOut, "--yes") {
		t.Fatalf("restore-stream without --yes: exit %d", code)
	}
	if _, err := js.Stream(ctx, "orders"); err == nil {
		t.Fatal("refused restore created the stream")
	}
	if out, _, code := cli("runbook", "restore-stream", "--from", dir, "--yes", "--dry-run"); code != 0 || !strings.Contains(out, "would run") {
		t.Fatalf("restore-stream --dry-run: exit %d", code)
	}
	if out, _, code := cli("runbook", "restore-stream", "--from", dir, "--yes"); code != 0 || !strings.Contains(out, "done: restore-stream") {
		t.Fatalf("restore-stream: exit %d", code)
	}
	s, err := js.Stream(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if info := s.CachedInfo(); info.State.Msgs != 50 || info.Config.Replicas != 3 {
		t.Fatalf("restored orders: %d messages, R%d", info.State.Msgs, info.Config.Replicas)
	}
}
