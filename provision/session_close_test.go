package provision

import (
	"fmt"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
)

// TestSessionCloseEndsNATS: Close ends the session's NATS connections (the
// system user's and each JetStream account's), as ForgetNATS does: the
// servers see every one of them gone.
func TestSessionCloseEndsNATS(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "SHOP", AppUser: "till", SysAccount: "OPS", SysUser: "oncall",
		MoreAccounts: []testcluster.AccountSpec{{Name: "LEDGER", User: "books"}},
		Clusters:     []testcluster.ClusterSpec{{Name: "PAIR", Domain: "pair", Nodes: []testcluster.NodeSpec{{Name: "p-1", DC: "x"}, {Name: "p-2", DC: "x"}}}}}
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	clients := func() int {
		n := 0
		for _, name := range c.Running() {
			n += c.Server(name).NumClients()
		}
		return n
	}
	before := clients()
	s := NewSession(c.Inv, c.Secrets, SessionOptions{Direct: true})
	if _, err := s.NATS(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := clients(); got != before+3 {
		t.Fatalf("%d client connections with the session's NATS open, want %d (the system user's and one per JetStream account)", got, before+3)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	testwait.Eventually(t, testwait.Converge, "the session's NATS connections gone after Close", func() error {
		if got := clients(); got != before {
			return fmt.Errorf("%d client connections, want %d", got, before)
		}
		return nil
	})
}
