package provision

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
)

// The first installs' waits share one read of a node's endpoint among the
// callers that ask while it is under way or young; an older one is read
// again.
func TestSharedMonitorReadsOnceForManyWaits(t *testing.T) {
	var hits atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release // every caller asks while this read is under way
		w.Write([]byte(`{"meta_cluster":{"leader":"a"}}`))
	}))
	defer srv.Close()
	spec := testcluster.Spec{AppAccount: "APP", AppUser: "app-u", SysAccount: "SYSTEM", SysUser: "sys-u",
		Clusters: []testcluster.ClusterSpec{{Name: "C", Domain: "d", Nodes: []testcluster.NodeSpec{{Name: "a", DC: "x"}, {Name: "b", DC: "x"}}}}}
	inv, err := inventory.Load(testcluster.WriteInventory(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession(inv, nil, SessionOptions{Direct: true})
	defer s.Close()
	s.servesMonitorAt("a", srv.URL)
	get := s.sharedMonitor(time.Hour)

	const callers = 8
	var wg sync.WaitGroup
	bodies := make([]string, callers)
	errs := make([]error, callers)
	var started sync.WaitGroup
	started.Add(callers)
	for i := range callers {
		wg.Go(func() {
			started.Done()
			b, err := get(t.Context(), "a", "/jsz")
			bodies[i], errs[i] = string(b), err
		})
	}
	started.Wait()
	// Poll, to a deadline, until the shared read has reached the endpoint,
	// which holds its answer until release: callers arriving meanwhile
	// wait for that read, later ones get its answer (maxAge is an hour).
	for deadline := time.Now().Add(5 * time.Second); hits.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no caller reached the endpoint within 5s")
		}
		time.Sleep(10 * time.Millisecond) // poll interval of a loop bounded by the deadline
	}
	close(release)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || bodies[i] != `{"meta_cluster":{"leader":"a"}}` {
			t.Errorf("caller %d: %q %v", i, bodies[i], errs[i])
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d reads of the endpoint for %d callers at once, want 1", n, callers)
	}
	// An answer older than maxAge is read again.
	if _, err := s.sharedMonitor(0)(t.Context(), "a", "/jsz"); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("%d reads after the answer aged, want 2", n)
	}
}
