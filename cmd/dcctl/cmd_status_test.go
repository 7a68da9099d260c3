package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/status"
)

// TestStatusExitCodes runs dcctl status as a monitor would: exit 0 with
// everything up, 1 with the backbone's meta quorum lost, 2 for bad input.
func TestStatusExitCodes(t *testing.T) {
	path := testcluster.WriteInventory(t, testcluster.Seed())
	c := testcluster.Start(t, path)
	t.Setenv("DCCTL_PASSWORD_ACC1", "")
	t.Setenv("DCCTL_PASSWORD_ADMIN", "")

	// Leafnode links come up a moment after the meta leaders: poll.
	var out string
	var code int
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _, code = runCLI(t, "status", path, "--direct", "--no-units", "--json")
		if code == 0 || time.Now().After(deadline) {
			break
		}
	}
	if code != 0 {
		t.Fatalf("all up: exit %d\n%s", code, out)
	}
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if !r.Healthy || len(r.Domains) != 3 {
		t.Fatalf("report: healthy %v, %d domains", r.Healthy, len(r.Domains))
	}
	for _, d := range r.Domains {
		if d.MetaLeader == "" || d.MetaLeader != c.MetaLeader(d.Name) {
			t.Errorf("domain %s: meta leader %q, servers say %q", d.Name, d.MetaLeader, c.MetaLeader(d.Name))
		}
	}
	out, _, code = runCLI(t, "status", path, "--direct", "--no-units", "--domain", "us")
	if code != 0 || !strings.Contains(out, "JetStream Summary: domain us") || strings.Contains(out, "domain hub") {
		t.Errorf("--domain us: exit %d\n%s", code, out)
	}

	c.Stop("bb_emea_1")
	c.Stop("bb_us_2")
	// The old leader keeps its title until it notices the lost quorum (a
	// few seconds): poll, each run bounded by status's own deadlines.
	deadline = time.Now().Add(30 * time.Second)
	for {
		began := time.Now()
		var errOut string
		out, errOut, code = runCLI(t, "status", path, "--direct", "--no-units")
		t.Logf("status with 2 of 4 backbone nodes down took %s", time.Since(began).Round(time.Millisecond))
		if code == 1 && strings.Contains(out, `no meta leader in domain "hub"`) {
			// A report that found problems is no failure of status itself.
			if !strings.Contains(errOut, "not healthy") || strings.Contains(errOut, "failed") {
				t.Errorf("stderr of a degraded status: %q", errOut)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("quorum lost: exit %d\n%s", code, out)
		}
	}

	if _, errOut, code := runCLI(t, "status", path, "--direct", "--domain", "nowhere"); code != 2 || !strings.Contains(errOut, `"nowhere"`) {
		t.Errorf("unknown domain: exit %d: %s", code, errOut)
	}
}
