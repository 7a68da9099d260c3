package jetstream

import (
	"context"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
)

// TestEveryAccount: two accounts each have a stream ORDERS, one R3 and one
// R1. A Conn with a user of each reaches each account's stream through its
// view, lists both with their accounts, and CanLose of the R1 stream's
// server refuses, naming the stream by its account: `dcctl node stop`
// weighs the streams of every account.
func TestEveryAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 nats-servers")
	}
	spec := testcluster.Spec{AppAccount: "SALES", AppUser: "sales", SysAccount: "OPS", SysUser: "ops",
		MoreAccounts: []testcluster.AccountSpec{{Name: "TELEMETRY", User: "tele"}},
		Clusters: []testcluster.ClusterSpec{{Name: "MAIN", Domain: "main", Nodes: []testcluster.NodeSpec{
			{Name: "m-1", DC: "x"}, {Name: "m-2", DC: "x"}, {Name: "m-3", DC: "x"}}}}}
	cl := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	sales, tele := cl.JetStreamAs(t, "main", "SALES"), cl.JetStreamAs(t, "main", "TELEMETRY")
	testcluster.CreateStream(t, sales, njs.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Replicas: 3, Storage: njs.FileStorage}, testwait.Converge)
	testcluster.Publish(t, sales, "orders", 2)
	testcluster.CreateStream(t, tele, njs.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Replicas: 1, Storage: njs.FileStorage}, testwait.Converge)
	testcluster.Publish(t, tele, "orders", 5)

	su, sp := cl.SysUser()
	var accounts []AccountUser
	for _, a := range []string{"SALES", "TELEMETRY"} {
		u, p := cl.AccountUser(a)
		accounts = append(accounts, AccountUser{Account: a, Credentials: Credentials{User: u, Password: p}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Connect(ctx, Options{URLs: cl.ClientURLs(), System: Credentials{User: su, Password: sp}, Accounts: accounts, Timeout: testTimeout, TLS: cl.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if _, err := c.Account("NOPE"); err == nil || !strings.Contains(err.Error(), "SALES, TELEMETRY") {
		t.Errorf("view of an unknown account: %v", err)
	}
	v, err := c.Account("TELEMETRY")
	if err != nil {
		t.Fatal(err)
	}
	st, err := v.Stream(ctx, "main", "ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	if st.Account != "TELEMETRY" || st.Msgs != 5 || st.Replicas != 1 {
		t.Fatalf("TELEMETRY's ORDERS: account %q, %d messages, R%d; want TELEMETRY, 5, R1", st.Account, st.Msgs, st.Replicas)
	}
	if st, err := c.Stream(ctx, "main", "ORDERS"); err != nil || st.Account != "SALES" || st.Msgs != 2 {
		t.Fatalf("the default account's ORDERS: %+v %v; want SALES's, 2 messages", st, err)
	}
	list, err := c.AllStreams(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Streams) != 2 || list.Label(list.Streams[0]) == "ORDERS" {
		t.Fatalf("all streams: %+v, want SALES/ORDERS and TELEMETRY/ORDERS", list.Streams)
	}

	err = c.CanLose(ctx, "main", st.Leader)
	if !IsUnsafe(err) || !strings.Contains(err.Error(), "stream TELEMETRY/ORDERS is R1 on "+st.Leader) {
		t.Fatalf("CanLose(%s), the server of TELEMETRY's R1 stream: %v", st.Leader, err)
	}
}
