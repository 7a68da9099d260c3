package status_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/status"
)

// TestStreamsOfEveryAccount: two JetStream accounts each have a stream
// named ORDERS. The report lists both, each with its account and its own
// contents, and names them ACCOUNT/NAME in the streams table.
func TestStreamsOfEveryAccount(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "SHOP", AppUser: "shop-app", SysAccount: "OPS", SysUser: "ops",
		MoreAccounts: []testcluster.AccountSpec{{Name: "LEDGER", User: "ledger-app"}},
		Clusters: []testcluster.ClusterSpec{{Name: "CORE", Domain: "core", Nodes: []testcluster.NodeSpec{
			{Name: "c-1", DC: "x"}, {Name: "c-2", DC: "x"}, {Name: "c-3", DC: "x"}}}}}
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	for account, n := range map[string]int{"SHOP": 4, "LEDGER": 9} {
		js := c.JetStreamAs(t, "core", account)
		testcluster.CreateStream(t, js, njs.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Replicas: 3, Storage: njs.FileStorage}, testwait.Converge)
		testcluster.Publish(t, js, "orders", n)
	}
	r := waitReport(t, session(t, c), settle, func(r *status.Report) error {
		if err := healthy(r); err != nil {
			return err
		}
		got := map[string]uint64{}
		for _, st := range domain(r, "core").Streams {
			got[st.Account+" "+st.Name] = st.Messages
		}
		if len(got) != 2 || got["SHOP ORDERS"] != 4 || got["LEDGER ORDERS"] != 9 {
			return fmt.Errorf("streams %v, want SHOP's ORDERS with 4 messages and LEDGER's with 9", got)
		}
		return nil
	})
	var text bytes.Buffer
	r.Write(&text)
	for _, want := range []string{"SHOP/ORDERS", "LEDGER/ORDERS"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the streams table does not name %s:\n%s", want, text.String())
		}
	}
}
