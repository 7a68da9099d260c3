package provision

import (
	"context"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/jetstream"
)

// TestGateAfterWaitsForALeaderOfItsStreams: an R2 stream's two servers
// go down and one comes back. The stream has no leader until the other is
// back too, so the node that came back is not whole: its replica serves
// nothing. The gate after its start said whole all the same (the stream,
// having no leader, was only in the list's Missing, which it never read),
// and restore-node reported done while the stream took no messages.
func TestGateAfterWaitsForALeaderOfItsStreams(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "PAY", AppUser: "payer", SysAccount: "ADMINISTRATION", SysUser: "sys-keeper",
		Clusters: []testcluster.ClusterSpec{{Name: "EDGE", Domain: "edge_o", Nodes: []testcluster.NodeSpec{
			{Name: "o-1", DC: "ord"}, {Name: "o-2", DC: "ord"}, {Name: "o-3", DC: "ord"}}}}}
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	js := c.JetStream(t, "edge_o")
	st := testcluster.CreateStream(t, js, njs.StreamConfig{Name: "OLM", Subjects: []string{"olm.>"}, Replicas: 2, Storage: njs.FileStorage}, time.Minute)
	testcluster.Publish(t, js, "olm.x", 10)
	info, err := st.Info(ctx)
	if err != nil || info.Cluster == nil || len(info.Cluster.Replicas) != 1 {
		t.Fatalf("stream info of OLM: %v %+v", err, info)
	}
	back, other := info.Cluster.Leader, info.Cluster.Replicas[0].Name

	c.Stop(other)
	c.Stop(back)
	c.Start(back)
	s := NewSession(c.Inv, c.Secrets, SessionOptions{Direct: true, NATSTimeout: 2 * time.Second})
	defer s.Close()
	// back healthy and a current meta peer first (the meta group may be
	// electing, on a loaded machine for longer than the short gate below):
	// what is left to wait for is the stream
	if err := s.WaitHealthz(ctx, back); err != nil {
		t.Fatal(err)
	}
	if err := jetstream.Poll(ctx, nodePoll, func() error { return s.Monitor().MetaPeerCurrent(ctx, "edge_o", back) }); err != nil {
		t.Fatal(err)
	}
	err = s.GateAfter(ctx, back, 8*time.Second, nil)
	if err == nil || !strings.Contains(err.Error(), "stream OLM") || !strings.Contains(err.Error(), "has no leader") {
		t.Fatalf("gate after %s with OLM's other server %s down: %v, want that stream OLM has no leader", back, other, err)
	}
	c.Start(other)
	if err := s.GateAfter(ctx, back, 2*time.Minute, nil); err != nil {
		t.Fatalf("gate after %s once %s is back: %v", back, other, err)
	}
}
