package jetstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
)

// TestPeerDownWhileTheOthersRestartKeepsItsName: a server that is down
// while every other server of its cluster restarts (a host powered off
// during a rolling upgrade) is one those servers have not heard from since
// they started, and nats-server lists it as "Server name unknown at this
// time (peerID: ...)" in the meta group and in its streams' replicas. dcctl
// names it again from the peer id, so that status says which server is
// down rather than advising to peer-remove a stranger (an outside audit:
// edge_s3 powered off during `upgrade --rollback`).
func TestPeerDownWhileTheOthersRestartKeepsItsName(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 nats-servers, restarts 2")
	}
	spec := testcluster.Spec{
		AppAccount: "Tele_3", AppUser: "tele3", SysAccount: "OPS_SYS", SysUser: "sysop9",
		Clusters: []testcluster.ClusterSpec{{Name: "lf-sjc2", Domain: "sjc_2_edge", Nodes: []testcluster.NodeSpec{
			{Name: "edge_s1", DC: "sjc_2"}, {Name: "edge_s2", DC: "sjc_2"}, {Name: "edge_s3", DC: "sjc_2"}}}},
	}
	cl := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	testcluster.CreateStream(t, cl.JetStream(t, "sjc_2_edge"), njs.StreamConfig{Name: "TEL", Subjects: []string{"tel.>"}, Replicas: 3, Storage: njs.FileStorage}, testwait.Converge)
	cl.Stop("edge_s3")
	for _, n := range []string{"edge_s1", "edge_s2"} {
		cl.Stop(n)
		cl.Start(n)
	}
	var urls, names []string
	for _, n := range cl.Inv.Nodes {
		urls, names = append(urls, n.ClientURL()), append(names, n.Name)
	}
	su, sp := cl.SysUser()
	au, ap := cl.AppUser()
	connect := func(names []string) *Conn {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		c, err := Connect(ctx, Options{URLs: urls[:2], System: Credentials{User: su, Password: sp},
			Accounts: []AccountUser{{Account: "Tele_3", Credentials: Credentials{User: au, Password: ap}}},
			Timeout:  testTimeout, TLS: cl.TLSConfig(), ServerNames: names})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	ctx := ctxT(t, 2*testwait.Converge)
	peers := func(c *Conn) (meta, replicas []string, err error) {
		m, err := c.Meta(ctx, "sjc_2_edge")
		if err != nil {
			return nil, nil, err
		}
		if !m.HasLeader() || len(m.Peers) != 3 {
			return nil, nil, fmt.Errorf("meta leader %q, peers %+v", m.Leader, m.Peers)
		}
		for _, p := range m.Peers {
			meta = append(meta, p.Name)
		}
		st, err := c.Stream(ctx, "sjc_2_edge", "TEL")
		if err != nil {
			return nil, nil, err
		}
		if st.Leader == "" || len(st.Followers) != 2 {
			return nil, nil, fmt.Errorf("stream leader %q, followers %+v", st.Leader, st.Followers)
		}
		for _, f := range st.Followers {
			replicas = append(replicas, f.Name)
		}
		return meta, replicas, nil
	}
	// The servers' own answer first: the case this test is about.
	unnamed := connect(nil)
	testwait.Eventually(t, testwait.Converge, "the servers report edge_s3 by peer id", func() error {
		meta, replicas, err := peers(unnamed)
		if err != nil {
			return err
		}
		want := unknownPeer + PeerID("edge_s3") + ")"
		if !slices.Contains(meta, want) || !slices.Contains(replicas, want) {
			return fmt.Errorf("meta peers %q, stream replicas %q: want %q among both", meta, replicas, want)
		}
		return nil
	})
	meta, replicas, err := peers(connect(names))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(meta, "edge_s3") || !slices.Contains(replicas, "edge_s3") {
		t.Errorf("meta peers %q, stream replicas %q: edge_s3 not named", meta, replicas)
	}
	// The monitoring endpoints' view, which the health gates read, names it too.
	m, err := Monitor{Get: monitorGet(cl), Servers: func(string) []string { return names[:2] }, Names: names}.Meta(ctx, "sjc_2_edge")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Peer("edge_s3"); !ok {
		t.Errorf("monitoring view: peers %+v", m.Peers)
	}
	if got := namePeer(unknownPeer+"zzzzzzzz)", names); !strings.HasPrefix(got, unknownPeer) {
		t.Errorf("a peer id of no listed server became %q", got)
	}
}

// monitorGet reads a test server's monitoring endpoint (plain HTTP on
// 127.0.0.1, as rendered for monitoring = "loopback").
func monitorGet(cl *testcluster.Cluster) func(ctx context.Context, server, path string) ([]byte, error) {
	return func(ctx context.Context, server, path string) ([]byte, error) {
		n := cl.Inv.Node(server)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", n.Ports.HTTP, path), nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s%s: %s", server, path, resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
}
