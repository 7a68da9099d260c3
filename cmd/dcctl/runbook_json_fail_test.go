package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
)

// TestRunbookJSONStaysJSONWhenAHostFails: with --json, a runbook that ends
// on a host's failure still prints only journal entries on stdout, each a
// JSON object, the last one saying how the run ended; the error, naming
// the host and the check, goes to stderr. Here a rolling restart's pre-check
// finds no unit on a host (the deployment's servers are in-process: no host
// answers over SSH): refused, exit 2.
func TestRunbookJSONStaysJSONWhenAHostFails(t *testing.T) {
	spec := testcluster.Seed()
	spec.Clusters = spec.Clusters[:2] // BB, US
	inv := testcluster.WriteInventory(t, spec)
	c := testcluster.Start(t, inv)
	_, pass := c.AppUser()
	out, errOut, code := runCLI(t, "runbook", "rolling-restart", "--cluster", "US", "--yes", "--json",
		"-i", inv, "--direct", "--ssh-timeout", "2s", "--timeout", "20s", "--without-lock")
	t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	if code != 2 {
		t.Fatalf("rolling-restart with no host reachable over SSH: exit %d, want 2 (refused by a pre-check)", code)
	}
	if strings.Contains(out+errOut, pass) {
		t.Fatal("a password was printed")
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		t.Fatalf("stdout has %d line(s), want the journal's entries", len(lines))
	}
	var last map[string]any
	for _, l := range lines {
		last = nil
		if err := json.Unmarshal([]byte(l), &last); err != nil {
			t.Fatalf("stdout line is not a JSON object: %q: %v", l, err)
		}
	}
	if last["phase"] != "run" || last["result"] != "refused" || !strings.Contains(last["error"].(string), "us_1") {
		t.Errorf("the last entry does not record how the run ended: %s", lines[len(lines)-1])
	}
	if !strings.Contains(errOut, "dcctl: refused: unitActive(us_1): us_1's unit is unreachable") {
		t.Errorf("stderr does not name the host and the step:\n%s", errOut)
	}
}
