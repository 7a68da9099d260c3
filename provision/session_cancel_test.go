package provision

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dcctl/dcctl/internal/sshtest"
)

// TestCancelledDialIsNotRemembered: a dial cut short by its caller's
// context (a NATS connection's probes of every host, cancelled once one
// answers) is not a fact about the host: the next use of the session dials
// again. It was remembered, and `dcctl node stop` then failed on the hosts
// the probes had not finished with ("ssh handshake: context canceled").
func TestCancelledDialIsNotRemembered(t *testing.T) {
	dir := t.TempDir()
	keyFile, signer := sshtest.ClientKey(t, dir)
	srv := sshtest.NewServer(t, signer.PublicKey())
	knownHosts := filepath.Join(dir, "known_hosts")
	sshtest.WriteKnownHost(t, knownHosts, srv.Addr, srv.HostKeys[0].PublicKey())
	inv := srv.Inventory(t, dir, keyFile, knownHosts, "", "")
	s := NewSession(inv, nil, SessionOptions{})
	defer s.Close()

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if errs := s.Connect(ctx, inv.Nodes); errs["n1"] == nil {
		t.Fatal("a dial with a cancelled context succeeded: the test proves nothing")
	}
	if errs := s.Connect(t.Context(), inv.Nodes); errs["n1"] != nil {
		t.Fatalf("after a cancelled dial, the next one: %v", errs["n1"])
	}
}
