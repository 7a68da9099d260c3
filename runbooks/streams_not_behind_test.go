package runbooks

import (
	"context"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
)

// TestStreamsNotBehindWaitsOutAnElection: right after a restart a stream
// may have no leader for a few seconds (its leader crashed, the others
// elect one), and the stream list misses it or times out. restore-node's
// post-check failed on one such moment on the lab ("STREAM.LIST: context
// deadline exceeded") although the stream was whole a second later: the
// check lets the answer settle before it fails.
func TestStreamsNotBehindWaitsOutAnElection(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "metrics", AppUser: "m.ingest", SysAccount: "ADMINISTRATION", SysUser: "sys-keeper",
		Clusters: []testcluster.ClusterSpec{{Name: "Ol_Edge", Domain: "ol_edge", Nodes: []testcluster.NodeSpec{
			{Name: "o-1", DC: "ord-9"}, {Name: "o-2", DC: "ord-9"}, {Name: "o-3", DC: "ord-9"}}}}}
	l := newLabTimeout(t, spec, 5*time.Second)
	l.stream("ol_edge", njs.StreamConfig{Name: "OLM", Subjects: []string{"olm.>"}, Storage: njs.FileStorage, Replicas: 3}, 40)
	info, err := l.info("ol_edge", "OLM")
	if err != nil || info.Cluster == nil {
		t.Fatalf("stream info: %v", err)
	}
	e := l.env()
	rec := map[streamRef]uint64{{Account: "metrics", Name: "OLM"}: info.State.LastSeq}
	// the stream's leader crashes; its followers take seconds to notice
	l.c.Stop(info.Cluster.Leader)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := streamsNotBehind(e, "ol_edge", rec).Run(ctx); err != nil {
		t.Fatalf("streamsNotBehind while OLM elects a new leader: %v", err)
	}
}
