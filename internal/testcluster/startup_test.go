package testcluster

import (
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/dcctl/dcctl/inventory"
)

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the calling goroutine, as testing's own does.
type fatalRecorder struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// TestStartReportsANodeThatCannotListen: waiting for a node's startup to
// complete, however long it takes, must not hide a node that cannot start:
// one whose client port is taken is reported as not listening.
func TestStartReportsANodeThatCannotListen(t *testing.T) {
	c := Start(t, WriteInventory(t, Spec{
		AppAccount: "APP", AppUser: "app", SysAccount: "SYS", SysUser: "sys",
		Clusters: []ClusterSpec{{Name: "C", Domain: "d", Nodes: []NodeSpec{{"n1", "x", false}, {"n2", "x", false}, {"n3", "x", false}}}},
	}))
	n := c.Inv.Node("n3")
	c.Stop(n.Name)
	taken, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(n.Ports.Client)))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	rec := &fatalRecorder{TB: t}
	other := &Cluster{t: rec, Inv: c.Inv, Secrets: c.Secrets, dir: c.dir, servers: map[string]*server.Server{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		other.Start(n.Name)
	}()
	<-done
	defer other.Shutdown()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !strings.Contains(rec.msg, "n3: started but not listening") || !strings.Contains(rec.msg, "client port") {
		t.Errorf("a node whose client port is taken: reported %q", rec.msg)
	}
}

// TestPortsOutsideTheEphemeralRange: the ports an inventory gets are below
// the kernel's ephemeral range, where no outgoing connection (the
// deployment's own routes and clients) can take one before its node starts.
func TestPortsOutsideTheEphemeralRange(t *testing.T) {
	inv, err := inventory.Load(WriteInventory(t, Seed()))
	if err != nil {
		t.Fatal(err)
	}
	low := ephemeralLow()
	for _, n := range inv.Nodes {
		for _, p := range []int{n.Ports.Client, n.Ports.Cluster, n.Ports.Leafnode, n.Ports.HTTP} {
			if p < 1024 || p >= low {
				t.Errorf("%s: port %d, want one in [1024, %d)", n.Name, p, low)
			}
		}
	}
}
