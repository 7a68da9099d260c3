package provision

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testcluster"
)

// TestWaitLeafLinks runs real servers started from the rendered configs: a
// leaf node is done once it has a link to its hub for every account, and not
// while the hub is gone; a node is a current meta peer only while its domain
// has a leader that says so.
func TestWaitLeafLinks(t *testing.T) {
	spec := testcluster.Spec{
		AppAccount: "PAYMENTS", AppUser: "svc-pay", SysAccount: "CONTROL", SysUser: "ctl",
		Clusters: []testcluster.ClusterSpec{
			{Name: "SPINE", Domain: "spine", Nodes: []testcluster.NodeSpec{{Name: "sp-1", DC: "ams"}, {Name: "sp-2", DC: "ams"}, {Name: "sp-3", DC: "ams"}}},
			{Name: "SHOP", Domain: "shop", LeafOf: "SPINE", Nodes: []testcluster.NodeSpec{{Name: "shop-a", DC: "ams"}, {Name: "shop-b", DC: "ams"}, {Name: "shop-c", DC: "ams"}}},
		},
	}
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	s := NewSession(c.Inv, c.Secrets, SessionOptions{Direct: true})
	defer s.Close()

	wait := func(node string, timeout time.Duration) ([]string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		var linked []string
		err := s.WaitLeafLinks(ctx, node, func(a []string) { linked = a })
		return linked, err
	}
	linked, err := wait("shop-a", 30*time.Second)
	if err != nil {
		t.Fatalf("leaf node with its hub up: %v", err)
	}
	if strings.Join(linked, ",") != "CONTROL,PAYMENTS" && strings.Join(linked, ",") != "PAYMENTS,CONTROL" {
		t.Errorf("linked accounts %v, want PAYMENTS and CONTROL", linked)
	}
	if _, err := wait("sp-1", time.Second); err != nil {
		t.Errorf("a hub node has no links to wait for: %v", err)
	}

	for _, n := range []string{"sp-1", "sp-2", "sp-3"} {
		c.Stop(n)
	}
	_, err = wait("shop-a", 2*time.Second)
	if err == nil {
		t.Fatal("leaf node with its whole hub down: links reported up")
	}
	for _, want := range []string{"shop-a", "SPINE", "PAYMENTS", "CONTROL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q: %v", want, err)
		}
	}

	// One hub node back: the links come back to it, and the wait ends.
	// Alone it has no meta quorum, so it is not a current meta peer.
	c.Start("sp-2")
	if _, err := wait("shop-a", 30*time.Second); err != nil {
		t.Fatalf("leaf node with one hub node back: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	err = s.WaitMetaCurrent(ctx, "sp-2")
	cancel()
	if err == nil || !strings.Contains(err.Error(), "sp-2") {
		t.Fatalf("one of three hub nodes up: got %v, want it not current, named", err)
	}
	c.Start("sp-1")
	for _, n := range []string{"sp-1", "sp-2", "shop-b"} {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		err := s.WaitMetaCurrent(ctx, n)
		cancel()
		if err != nil {
			t.Errorf("%s with its domain's quorum back: %v", n, err)
		}
	}
}
