package provision

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/templates"
)

// TestDroppedAccountWithStreamsIsRefused: an account taken out of the
// inventory while it has a stream (an R1 one: on one server only) is
// refused, naming the stream and what it holds; the servers' /jsz is what
// says so. An account without streams may go. On the lab the reload of the
// first hub node without the account failed its /healthz ("JetStream can
// not lookup account") for the gate's 3 minutes and the rollout stopped.
func TestDroppedAccountWithStreamsIsRefused(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "SALES", AppUser: "sales-app", SysAccount: "OPS", SysUser: "ops",
		MoreAccounts: []testcluster.AccountSpec{{Name: "TELEMETRY", User: "tele"}, {Name: "SPARE", User: "spare"}},
		Clusters: []testcluster.ClusterSpec{{Name: "MAIN", Domain: "main", Nodes: []testcluster.NodeSpec{
			{Name: "m-1", DC: "x"}, {Name: "m-2", DC: "x"}, {Name: "m-3", DC: "y"}}}}}
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tele := c.JetStreamAs(t, "main", "TELEMETRY")
	testcluster.CreateStream(t, tele, njs.StreamConfig{Name: "TEL", Subjects: []string{"tel.>"}, Replicas: 1, Storage: njs.FileStorage}, time.Minute)
	testcluster.Publish(t, tele, "tel", 5)

	s := NewSession(c.Inv, c.Secrets, SessionOptions{Direct: true, NATSTimeout: 2 * time.Second})
	defer s.Close()
	config := templates.PathsFor(c.Inv).Config
	was := []byte("accounts {\n  SALES: { jetstream: enabled }\n  TELEMETRY: { jetstream: enabled }\n  SPARE: { jetstream: enabled }\n  OPS: {}\n}\n")
	plans := func(now string) []*HostPlan {
		var out []*HostPlan
		for _, n := range c.Inv.Nodes {
			out = append(out, &HostPlan{Node: n, Facts: &Facts{UnitActive: "active"}, Action: ActionReload,
				Files: []FileChange{{File: templates.File{Path: config, Content: []byte(now)}, OldConfig: was}}})
		}
		return out
	}
	err := CheckDroppedAccounts(ctx, s, plans("accounts {\n  SALES: { jetstream: enabled }\n  SPARE: { jetstream: enabled }\n  OPS: {}\n}\n"))
	var dropped *DroppedAccountError
	if !errors.As(err, &dropped) || dropped.Account != "TELEMETRY" {
		t.Fatalf("TELEMETRY dropped with its stream: %v", err)
	}
	if len(dropped.Nodes) != 3 {
		t.Errorf("the refusal names nodes %v, want the 3 that would lose TELEMETRY (plan --json gives it on each)", dropped.Nodes)
	}
	for _, want := range []string{"TEL (5 messages, domain main)", "dcctl backup STREAM --domain D --account TELEMETRY", "keep the account"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal lacks %q: %v", want, err)
		}
	}
	// JetStream turned off for it is the same loss
	if err := CheckDroppedAccounts(ctx, s, plans("accounts {\n  SALES: { jetstream: enabled }\n  TELEMETRY: {}\n  SPARE: { jetstream: enabled }\n  OPS: {}\n}\n")); !errors.As(err, &dropped) {
		t.Errorf("TELEMETRY without JetStream: %v", err)
	}
	// an account without streams may go
	if err := CheckDroppedAccounts(ctx, s, plans("accounts {\n  SALES: { jetstream: enabled }\n  TELEMETRY: { jetstream: enabled }\n  OPS: {}\n}\n")); err != nil {
		t.Errorf("SPARE has no stream: %v", err)
	}
}
