package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/status"
)

// statusJSON runs `dcctl status --json` and decodes the report.
func statusJSON(t *testing.T) (*status.Report, int) {
	t.Helper()
	out, stderr, code := runDcctl(t, "status", labInventory(t), "--json")
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("status --json: exit %d, %v\n%s\n%s", code, err, out, stderr)
	}
	return &r, code
}

func reportDomain(r *status.Report, name string) *status.Domain {
	for _, d := range r.Domains {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func reportServer(r *status.Report, name string) *status.Server {
	for _, d := range r.Domains {
		for _, s := range d.Servers {
			if s.Name == name {
				return s
			}
		}
	}
	return nil
}

// TestStatus compares `dcctl status` with what the servers and systemd say
// themselves: /jsz over HTTP from this machine, systemctl over ssh.
func TestStatus(t *testing.T) {
	ensureProvisioned(t)
	inv, err := inventory.Load(labInventory(t))
	if err != nil {
		t.Fatal(err)
	}

	var r *status.Report
	testwait.Eventually(t, 90*time.Second, "dcctl status healthy after provision", func() error {
		var code int
		r, code = statusJSON(t)
		if code != 0 || !r.Healthy {
			return fmt.Errorf("exit %d, warnings %+v", code, r.Warnings)
		}
		return nil
	})
	if len(r.Domains) != len(inv.Clusters) {
		t.Fatalf("%d domains reported, inventory has %d clusters", len(r.Domains), len(inv.Clusters))
	}
	for _, cl := range inv.Clusters {
		d := reportDomain(r, cl.Domain)
		if d == nil {
			t.Fatalf("domain %s missing from the report", cl.Domain)
		}
		// Every running server of the domain names the same meta leader,
		// and it is the one dcctl reports.
		for _, n := range cl.Active() {
			leader, err := metaLeaderSeenBy(n.Host, natsHTTPPort)
			if err != nil {
				t.Fatalf("%s /jsz: %v", n.Name, err)
			}
			if leader != d.MetaLeader {
				t.Errorf("domain %s: dcctl says meta leader %q, %s says %q", cl.Domain, d.MetaLeader, n.Name, leader)
			}
		}
		// The leader's own view of the group (/jsz?leader-only=true).
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		code, body, err := httpGet(ctx, inv.Node(d.MetaLeader).Host, natsHTTPPort, "/jsz?leader-only=true")
		cancel()
		if err != nil || code != 200 {
			t.Fatalf("leader %s /jsz?leader-only=true: %d %v", d.MetaLeader, code, err)
		}
		var jsz struct {
			Meta struct {
				Size     int `json:"cluster_size"`
				Replicas []struct {
					Name    string `json:"name"`
					Current bool   `json:"current"`
					Peer    string `json:"peer"`
				} `json:"replicas"`
			} `json:"meta_cluster"`
		}
		if err := json.Unmarshal(body, &jsz); err != nil {
			t.Fatal(err)
		}
		if jsz.Meta.Size != d.ClusterSize {
			t.Errorf("domain %s: cluster size %d, leader says %d", cl.Domain, d.ClusterSize, jsz.Meta.Size)
		}
		for _, rp := range jsz.Meta.Replicas {
			found := false
			for _, p := range d.Meta {
				if p.Name == rp.Name {
					found = true
					if p.ID != rp.Peer || p.Current != rp.Current {
						t.Errorf("meta peer %s: dcctl %+v, leader says %+v", p.Name, p, rp)
					}
				}
			}
			if !found {
				t.Errorf("meta peer %s missing from the report", rp.Name)
			}
		}
		// Unit states as systemd says them.
		for _, n := range cl.Nodes {
			want := strings.TrimSpace(sshHost(t, n.Name, "systemctl is-active nats-server || true"))
			if s := reportServer(r, n.Name); s == nil || s.Unit != want {
				t.Errorf("%s: dcctl reports unit %+v, systemctl says %s", n.Name, s, want)
			}
		}
	}

	// The crash drill: kill a US node that leads nothing, see it reported,
	// bring it back.
	us := inv.ClusterByDomain("us")
	var victim string
	for _, n := range us.Active() {
		if n.Name != reportDomain(r, "us").MetaLeader {
			victim = n.Name
			break
		}
	}
	if _, _, code := runDcctl(t, "node", "kill", victim, labInventory(t)); code != 2 {
		t.Fatalf("node kill without --yes and without a terminal: exit %d, want 2", code)
	}
	if got := strings.TrimSpace(sshHost(t, victim, "systemctl is-active nats-server || true")); got != "active" {
		t.Fatalf("refused kill changed %s: unit %s", victim, got)
	}
	if out, stderr, code := runDcctl(t, "node", "kill", victim, labInventory(t), "--yes"); code != 0 {
		t.Fatalf("node kill: exit %d\n%s\n%s", code, out, stderr)
	}
	// systemd must not have restarted it (Restart=on-failure, RestartSec=5):
	// still down well after RestartSec, and no nats-server process left.
	unitDown := func() error {
		if st := strings.TrimSpace(sshHost(t, victim, "systemctl is-active nats-server || true")); st == "active" || st == "activating" {
			return fmt.Errorf("unit %s", st)
		}
		if ps := strings.TrimSpace(sshHost(t, victim, "pgrep -x nats-server || true")); ps != "" {
			return fmt.Errorf("nats-server still running: pid %s", ps)
		}
		return nil
	}
	if err := unitDown(); err != nil {
		t.Fatalf("after kill: %v", err)
	}
	r, code := statusJSON(t)
	if code != 1 || r.Healthy {
		t.Errorf("status with %s killed: exit %d, healthy %v", victim, code, r.Healthy)
	}
	if s := reportServer(r, victim); s == nil || s.Online || (s.Unit != "failed" && s.Unit != "inactive") {
		t.Errorf("killed %s reported as %+v", victim, s)
	}
	// A negative check needs a window: watch the unit through more than
	// RestartSec (5s) and see that systemd never brings the server back.
	for until := time.Now().Add(7 * time.Second); time.Now().Before(until); {
		if err := unitDown(); err != nil {
			t.Fatalf("%s after the kill: systemd restarted it: %v", victim, err)
		}
		time.Sleep(500 * time.Millisecond) // poll interval
	}

	if out, stderr, code := runDcctl(t, "node", "start", victim, labInventory(t)); code != 0 {
		t.Fatalf("node start: exit %d\n%s\n%s", code, out, stderr)
	}
	testwait.Eventually(t, 60*time.Second, "status healthy after node start", func() error {
		r, code := statusJSON(t)
		if code != 0 {
			return fmt.Errorf("exit %d, warnings %+v", code, r.Warnings)
		}
		return nil
	})
}
