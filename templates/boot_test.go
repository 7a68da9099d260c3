package templates_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
)

// TestBoot starts every server of a topology from its rendered config and
// checks the deployment works as inventory/example.toml describes it; the
// second topology shares no name, size or port with it.
func TestBoot(t *testing.T) {
	if testing.Short() {
		t.Skip("boots 10-11 in-process servers; skipped with -short")
	}
	for name, spec := range map[string]testcluster.Spec{"seed": testcluster.Seed(), "other": testcluster.Other()} {
		t.Run(name, func(t *testing.T) { bootAndCheck(t, spec) })
	}
}

func bootAndCheck(t *testing.T, spec testcluster.Spec) {
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	hub, leafA := spec.Clusters[0], spec.Clusters[1]

	for _, cl := range spec.Clusters {
		if l := c.MetaLeader(cl.Domain); l == "" {
			t.Errorf("domain %s has no meta leader", cl.Domain)
		}
	}

	hubDC := map[int]string{} // leafnode port -> DC of the hub node
	for _, n := range hub.Nodes {
		hubDC[c.Inv.Node(n.Name).Ports.Leafnode] = n.DC
	}
	// Each leaf node holds one leafnode connection per account, to a hub
	// node of its own DC.
	for _, cl := range spec.Clusters[1:] {
		for _, n := range cl.Nodes {
			testwait.Eventually(t, testwait.Converge, n.Name+" leafnode connections for both accounts", func() error {
				lz, err := c.Server(n.Name).Leafz(&server.LeafzOptions{})
				if err != nil {
					return err
				}
				accts := map[string]bool{}
				for _, l := range lz.Leafs {
					accts[l.Account] = true
					// Links go to a hub node of the leaf node's own DC.
					if dc := hubDC[l.Port]; dc != n.DC {
						return fmt.Errorf("leafnode link of account %s to port %d (a hub node in DC %q), not to one in %s", l.Account, l.Port, dc, n.DC)
					}
				}
				if !accts[spec.AppAccount] || !accts[spec.SysAccount] {
					return fmt.Errorf("leafnode links for accounts %v", accts)
				}
				return nil
			})
		}
	}

	// The hub takes leafnode links over TLS only, and only from a node
	// with a certificate from the CA: every link above is such a link.
	for _, n := range hub.Nodes {
		v, err := c.Server(n.Name).Varz(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !v.LeafNode.TLSRequired || !v.LeafNode.TLSVerify || !v.Cluster.TLSRequired || !v.Cluster.TLSVerify || !v.TLSRequired {
			t.Errorf("%s: TLS required/verified: leafnodes %v/%v, routes %v/%v, clients %v", n.Name, v.LeafNode.TLSRequired, v.LeafNode.TLSVerify, v.Cluster.TLSRequired, v.Cluster.TLSVerify, v.TLSRequired)
		}
	}

	user, pw := c.AppUser()
	leafNode := c.Inv.Node(leafA.Nodes[0].Name)
	nc, err := nats.Connect(leafNode.ClientURL(), append(c.ClientOptions(), nats.UserInfo(user, pw))...)
	if err != nil {
		t.Fatalf("connect to %s as %s: %v", leafNode.Name, user, err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// A client of a leaf cluster works with a stream in the hub's domain.
	hubJS, err := jetstream.NewWithDomain(nc, hub.Domain)
	if err != nil {
		t.Fatal(err)
	}
	// from a leaf client: the request crosses the leafnode link
	testcluster.CreateStream(t, hubJS, jetstream.StreamConfig{Name: "ORDERS_HUB", Subjects: []string{"boot.hub.>"}, Replicas: 3}, testwait.Converge)
	if _, err := hubJS.Publish(ctx, "boot.hub.1", []byte("hello")); err != nil {
		t.Fatalf("publish to hub stream: %v", err)
	}
	msg, err := hubJS.Stream(ctx, "ORDERS_HUB")
	if err != nil {
		t.Fatal(err)
	}
	got, err := msg.GetMsg(ctx, 1)
	if err != nil {
		t.Fatalf("read back from hub stream: %v", err)
	}
	if string(got.Data) != "hello" {
		t.Fatalf("read back %q from hub stream, want hello", got.Data)
	}

	// An R3 stream in the leaf domain reaches 3 current replicas.
	leafJS, err := jetstream.NewWithDomain(nc, leafA.Domain)
	if err != nil {
		t.Fatal(err)
	}
	testcluster.CreateStream(t, leafJS, jetstream.StreamConfig{Name: "LEAF_R3", Subjects: []string{"boot.leaf.>"}, Replicas: 3}, testwait.Converge)
	testwait.Eventually(t, testwait.Converge, "3 current replicas in domain "+leafA.Domain, func() error {
		s, err := leafJS.Stream(ctx, "LEAF_R3")
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
			return fmt.Errorf("cluster %+v: want a leader and 2 followers", info.Cluster)
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current {
				return fmt.Errorf("replica %s not current", r.Name)
			}
		}
		if info.Cluster.Name != leafA.Name {
			return fmt.Errorf("stream placed in cluster %s, want %s", info.Cluster.Name, leafA.Name)
		}
		return nil
	})
}
