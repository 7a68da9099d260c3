package provision

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcctl/dcctl/graceful"
	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
)

// TestStopEndsTheGateBeforeARestart: the first Ctrl-C while a node waits
// at the gate before its restart ends that wait at once (nothing has
// changed on the node yet), no restart starts, and the interrupt notice
// does not count the node among the steps that will finish. The request
// comes while the gate asks a monitoring endpoint; no server runs, so the
// gate could only wait out its timeout: it then failed as a gate failure,
// and would have restarted the node had the gate passed meanwhile.
func TestStopEndsTheGateBeforeARestart(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "SHOP", AppUser: "till", SysAccount: "OPS", SysUser: "oncall",
		Clusters: []testcluster.ClusterSpec{{Name: "TRIO", Domain: "trio", Nodes: []testcluster.NodeSpec{{Name: "t-1", DC: "x"}, {Name: "t-2", DC: "x"}, {Name: "t-3", DC: "y"}}}}}
	inv, err := inventory.Load(testcluster.WriteInventory(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession(inv, &inventory.Secrets{}, SessionOptions{Direct: true, NATSTimeout: time.Second})
	defer s.Close()
	ctx, st := graceful.New(t.Context())
	cause := errors.New("interrupted (SIGINT)")

	// The operator's Ctrl-C, the moment the gate asks t-1's monitoring
	// port (which answers as a server still starting would).
	var once sync.Once
	var mu sync.Mutex
	var under []string
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(inv.Node("t-1").Ports.HTTP)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		once.Do(func() {
			mu.Lock()
			under = st.Request(cause)
			mu.Unlock()
		})
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	var log strings.Builder
	// c is nil: a phase after the gate that reached the host would fail the test
	p := &HostPlan{Node: inv.Node("t-2"), Action: ActionRestart, Why: []string{"config changed"}}
	h := &hostRun{s: s, p: p, log: &lineLog{w: &log}, timeout: 30 * time.Second}
	step, end := graceful.Begin(ctx, "restart of t-2")
	defer end()
	err = runPhases(step, h, rollPhases())
	var stopped *graceful.Stopped
	if !errors.As(err, &stopped) || !errors.Is(err, cause) {
		t.Fatalf("stop at the gate before the restart: %v, want the run stopped (%v)\n%s", err, cause, log.String())
	}
	if strings.Contains(log.String(), "restarting") {
		t.Errorf("the restart went ahead after the stop:\n%s", log.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(under) != 0 {
		t.Errorf("the notice says %q will finish: the node waiting at its gate ends at once", under)
	}
	if ctx.Err() != nil {
		t.Error("the stop cancelled the run's context")
	}
}
