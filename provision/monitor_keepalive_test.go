package provision

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
)

// A session reads a node's monitoring endpoint over one kept connection
// (one tunnel through the host's sshd), not a new one per request; a
// connection the server closed (a restart) or a forgotten host's is
// replaced by a new one without a failed read.
func TestMonitorKeepsItsConnectionThroughTheTunnel(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ok"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the fixture's host root lives under /var/lib (run as root, as scripts/test.sh does)")
	}
	s, node, _ := hostFixture(t, hostRoot(t), false)
	s.servesMonitorAt(node.Name, srv.URL)

	healthz := func(what string) {
		t.Helper()
		if code, err := s.Healthz(t.Context(), node.Name, "/healthz"); err != nil || code != http.StatusOK {
			t.Fatalf("%s: /healthz through the tunnel: %d %v", what, code, err)
		}
	}
	for range 5 {
		healthz("a poll")
		if _, err := s.monitor(t.Context(), node.Name, "/jsz"); err != nil {
			t.Fatalf("/jsz through the tunnel: %v", err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections to the endpoint for 10 requests one after the other, want 1", n)
	}

	srv.CloseClientConnections() // the server restarted
	healthz("after the server closed the connection")
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections after the server closed the first, want 2", n)
	}
	s.Forget(node.Name) // its SSH connection closed: the tunnel with it
	healthz("after the host was forgotten")
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections after the host was forgotten, want 3", n)
	}
}
