package runbooks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/dcctl/dcctl/internal/testcluster"
)

// oldBinary is bin/nats-server-old, an older release scripts/test.sh
// installs from the module proxy.
func oldBinary(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "bin", "nats-server-old"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not built (scripts/test.sh builds it): %v", p, err)
	}
	return p
}

// An upgrade to an older minor release than the servers run is refused
// before anything is staged, naming the servers and the way out; a binary
// that is not a nats-server is refused too.
func TestUpgradeRefusesADowngrade(t *testing.T) {
	old := oldBinary(t)
	s := testcluster.Other()
	s.Clusters = s.Clusters[1:2] // one 3-node cluster, no name shared with the example
	s.Clusters[0].LeafOf = ""
	l := newLab(t, s)
	cl := s.Clusters[0]

	err := l.run(&Upgrade{Binary: old, Cluster: cl.Name})
	wantRefused(t, err, "notADowngrade")
	for _, want := range []string{"a downgrade across minor releases", cl.Nodes[0].Name + " runs " + server.VERSION, "--allow-downgrade"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if calls := l.hosts.Calls(); len(calls) != 0 {
		t.Errorf("a refused upgrade touched the hosts: %v", calls)
	}

	notNATS := filepath.Join(t.TempDir(), "nats-server")
	os.WriteFile(notNATS, []byte("#!/bin/sh\necho nats-server: v9.9.9\n"), 0o755)
	wantRefused(t, l.run(&Upgrade{Binary: notNATS, Cluster: cl.Name}), "no Go build information")
}
