package provision

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
)

// TestGateStreamsOfEveryAccount: two JetStream accounts each have a stream
// named ORDERS, an R3 one in the first and an R1 one in the second. The
// gate's view of the domain holds both, each with its own account and
// replicas (keyed by name alone, one hid the other), and the gate before a
// restart of the R1 stream's server warns about that stream by its account.
func TestGateStreamsOfEveryAccount(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "SALES", AppUser: "sales-app", SysAccount: "OPS", SysUser: "ops",
		MoreAccounts: []testcluster.AccountSpec{{Name: "TELEMETRY", User: "tele"}},
		Clusters: []testcluster.ClusterSpec{{Name: "MAIN", Domain: "main", Nodes: []testcluster.NodeSpec{
			{Name: "m-1", DC: "x"}, {Name: "m-2", DC: "x"}, {Name: "m-3", DC: "y"}}}}}
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	sales, tele := c.JetStreamAs(t, "main", "SALES"), c.JetStreamAs(t, "main", "TELEMETRY")
	testcluster.CreateStream(t, sales, njs.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Replicas: 3, Storage: njs.FileStorage}, time.Minute)
	testcluster.Publish(t, sales, "orders", 7)
	r1 := testcluster.CreateStream(t, tele, njs.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Replicas: 1, Storage: njs.FileStorage}, time.Minute)
	testcluster.Publish(t, tele, "orders", 3)
	info, err := r1.Info(ctx)
	if err != nil || info.Cluster == nil || info.Cluster.Leader == "" {
		t.Fatalf("stream info of TELEMETRY/ORDERS: %v", err)
	}
	node := info.Cluster.Leader

	s := NewSession(c.Inv, c.Secrets, SessionOptions{Direct: true, NATSTimeout: 2 * time.Second})
	defer s.Close()
	list, err := s.Monitor().Streams(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, st := range list.Streams {
		got[st.Ref()] = fmt.Sprintf("%s %s %d", st.Name, st.Account, st.Replicas)
	}
	if len(list.Streams) != 2 || got["SALES/ORDERS"] != "ORDERS SALES 3" || got["TELEMETRY/ORDERS"] != "ORDERS TELEMETRY 1" {
		t.Fatalf("the gate's view of domain main: %v (missing %v), want SALES/ORDERS R3 and TELEMETRY/ORDERS R1", got, list.Missing)
	}

	var warnings []string
	if err := s.GateBefore(ctx, node, time.Minute, func(w string) { warnings = append(warnings, w) }, nil); err != nil {
		t.Fatalf("gate before %s: %v", node, err)
	}
	if w := strings.Join(warnings, "\n"); !strings.Contains(w, "stream TELEMETRY/ORDERS is R1 on "+node) || strings.Contains(w, "SALES/ORDERS") {
		t.Fatalf("gate before %s warned %q, want only that TELEMETRY/ORDERS is R1 there", node, w)
	}
}
