package provision

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
)

// TestGateWithWrongPasswords: the health gate reads the monitoring endpoints,
// so it works while the session's NATS passwords are not the servers' (a
// restored secrets file after new passwords went out, or a rotation under
// way) — and it still refuses what it must: a node whose loss would cost the
// meta quorum.
func TestGateWithWrongPasswords(t *testing.T) {
	spec := testcluster.Other()
	spec.Clusters = spec.Clusters[:1] // a 5-node cluster: quorum 3
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	domain := spec.Clusters[0].Domain
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// An R3 stream with data, through the real application user.
	js := c.JetStream(t, domain)
	st := testcluster.CreateStream(t, js, njs.StreamConfig{Name: "gated", Subjects: []string{"gated.>"}, Replicas: 3, Storage: njs.FileStorage}, time.Minute)
	testcluster.Publish(t, js, "gated.>", 20)
	info, err := st.Info(ctx)
	if err != nil || info.Cluster == nil {
		t.Fatalf("stream info: %v", err)
	}
	node := info.Cluster.Leader // holds a replica

	// A session whose passwords are not the servers'.
	wrong := func(k string) string { return "not-the-servers-password-" + k }
	sec, err := inventory.LoadSecrets(c.Inv, wrong)
	if err != nil {
		t.Fatal(err)
	}
	// the deployment's CA: only the passwords are wrong
	mat, err := pki.Load(c.Inv)
	if err != nil {
		t.Fatal(err)
	}
	mat.Apply(sec)
	s := NewSession(c.Inv, sec, SessionOptions{Direct: true, NATSTimeout: 2 * time.Second})
	defer s.Close()
	if _, err := s.NATS(ctx); err == nil {
		t.Fatal("NATS accepted the wrong passwords: the test proves nothing")
	}

	if err := s.GateBefore(ctx, node, time.Minute, nil, nil); err != nil {
		t.Fatalf("gate before %s with wrong NATS passwords: %v", node, err)
	}
	// Two other servers down (not the meta leader, so that no election
	// muddles the answer): losing node too would cost the quorum.
	leader := c.MetaLeader(domain)
	var others []string
	for _, n := range c.Inv.Nodes {
		if n.Name != node && n.Name != leader && len(others) < 2 {
			others = append(others, n.Name)
		}
	}
	for _, o := range others {
		c.Stop(o)
	}
	// The wait says why it waits, once per reason, not only when it ends.
	var waited []string
	err = s.GateBefore(ctx, node, 3*time.Second, nil, func(w string) { waited = append(waited, w) })
	if err == nil || !strings.Contains(err.Error(), "quorum") {
		t.Fatalf("gate before %s with 2 of 5 down: %v, want a quorum refusal", node, err)
	}
	if len(waited) == 0 || len(waited) > 3 || !strings.HasPrefix(waited[0], "waiting: ") || !strings.Contains(waited[0], "quorum") {
		t.Fatalf("gate before %s with 2 of 5 down reported %q while waiting, want the quorum reason once", node, waited)
	}
	// Its verdict once, with the reason, not the wait's mechanics (it read
	// "... (waited 3s): context deadline exceeded (last: NODE cannot be
	// taken down safely: ...)").
	if msg := err.Error(); strings.Count(msg, "cannot be taken down safely") != 1 || strings.Contains(msg, "deadline") ||
		!strings.HasPrefix(msg, node+" cannot be taken down safely (waited 3s): ") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("gate before %s timed out with %q, want its verdict once, then why", node, msg)
	}
	// Back: each must pass the after-gate (healthz, current meta peer, its
	// replicas current), still without the passwords.
	for _, o := range others {
		c.Start(o)
	}
	for _, o := range others {
		if err := s.GateAfter(ctx, o, 2*time.Minute, nil); err != nil {
			t.Fatalf("gate after %s with wrong NATS passwords: %v", o, err)
		}
	}
	if err := s.GateBefore(ctx, node, time.Minute, nil, nil); err != nil {
		t.Fatalf("gate before %s once everything is back: %v", node, err)
	}
}
