package provision

import (
	"context"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testcluster"
)

// TestWaitHealthzSaysTheServersReason: a server that answers /healthz with
// 503 gives its reason in the JSON, which the gate's wait reads to carry it (on the
// lab, "/healthz answered 503" alone hid `JetStream can not lookup account
// "telemetry": account missing`, the whole cause of a stopped rollout).
func TestWaitHealthzSaysTheServersReason(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "APP", AppUser: "app-u", SysAccount: "SYSTEM", SysUser: "sys-u",
		Clusters: []testcluster.ClusterSpec{{Name: "SOLO", Domain: "solo", Nodes: []testcluster.NodeSpec{{Name: "solo-1", DC: "x"}, {Name: "solo-2", DC: "x"}, {Name: "solo-3", DC: "x"}}}}}
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	s := NewSession(c.Inv, c.Secrets, SessionOptions{Direct: true})
	defer s.Close()
	// A stream the server does not have: nats-server answers an error status and why.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code, why, err := s.healthz(ctx, "solo-3", "/healthz?account=APP&stream=NOPE")
	if err != nil || code == 200 || why == "" {
		t.Errorf("healthz of a missing stream: %d %q %v, want an error status and the server's reason", code, why, err)
	}
	code, why, err = s.healthz(ctx, "solo-3", "/healthz")
	if err != nil || code != 200 || why != "" {
		t.Errorf("healthz: %d %q %v", code, why, err)
	}
}
