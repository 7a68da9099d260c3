package provision

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testcluster"
)

// TestMonitoringOpenOverHTTPS: with nats.monitoring = "host" the endpoint
// speaks HTTPS with the node's certificate, and the session reads it,
// verifying the deployment's CA; a plain HTTP request there gets no answer
// a health check could take for one.
func TestMonitoringOpenOverHTTPS(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "APP", AppUser: "app-u", SysAccount: "SYSTEM", SysUser: "sys-u",
		Clusters: []testcluster.ClusterSpec{{Name: "SOLO", Domain: "solo", Nodes: []testcluster.NodeSpec{{Name: "solo-1", DC: "x"}, {Name: "solo-2", DC: "x"}, {Name: "solo-3", DC: "x"}}}}}
	path := testcluster.WriteInventory(t, spec)
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(text), "[nats]\n", "[nats]\nmonitoring = \"host\"\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	c := testcluster.Start(t, path)
	if !c.Inv.MonitorHTTPS() {
		t.Fatal("fixture: monitoring is not HTTPS")
	}
	s := NewSession(c.Inv, c.Secrets, SessionOptions{Direct: true})
	defer s.Close()
	n := c.Inv.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, err := s.Healthz(ctx, n.Name, "/healthz")
	if err != nil || code != http.StatusOK {
		t.Fatalf("/healthz over HTTPS: %d %v", code, err)
	}
	if base := s.monitorBase(n); !strings.HasPrefix(base, "https://") {
		t.Errorf("monitoring base %s", base)
	}
	resp, err := http.Get("http://" + c.Inv.MonitorAddr(n) + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP on the HTTPS monitoring port answered 200")
		}
	}
}
