package runbooks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
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
	for _, want := range []string{"a downgrade across minor releases", cl.Nodes[0].Name + ", " + cl.Nodes[1].Name + ", " + cl.Nodes[2].Name + " run " + server.VERSION, "--allow-downgrade"} {
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

// After an upgrade to another file than nats.binary, or a rollback, the
// operator is told to point nats.binary at what the nodes run.
func TestUpgradeInventoryNote(t *testing.T) {
	dir := t.TempDir()
	same, other := filepath.Join(dir, "nats-server"), filepath.Join(dir, "nats-server-new")
	os.WriteFile(same, []byte("release a"), 0o755)
	os.WriteFile(other, []byte("release b"), 0o755)
	inv := &inventory.Inventory{File: filepath.Join(dir, "inventory.toml")}
	inv.NATS.Binary = same
	sum := func(p string) string {
		s, _, err := fileSHA256(p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if note := (&Upgrade{Binary: same, sum: sum(same)}).InventoryNote(inv); note != "" {
		t.Errorf("upgrade to nats.binary itself: %q", note)
	}
	if note := (&Upgrade{Binary: other, sum: sum(other)}).InventoryNote(inv); !strings.Contains(note, "point it at "+other) {
		t.Errorf("upgrade to another file: %q", note)
	}
	if note := (&Upgrade{Rollback: true, want: map[string]string{"n1": "2.14.9"}}).InventoryNote(inv); !strings.Contains(note, "rolled back run 2.14.9 again") {
		t.Errorf("rollback: %q", note)
	}
	if note := (&Upgrade{Rollback: true, want: map[string]string{}}).InventoryNote(inv); note != "" {
		t.Errorf("rollback of nothing: %q", note)
	}
	// A rollback to the release nats.binary names (the upgrade was tried
	// with --binary) leaves nothing to change in the inventory.
	inv.NATS.Binary = oldBinary(t) // skips the rest when it is not built
	if note := (&Upgrade{Rollback: true, want: map[string]string{"n1": "2.14.9", "n2": "2.14.9"}}).InventoryNote(inv); note != "" {
		t.Errorf("rollback to nats.binary's own release: %q", note)
	}
	if note := (&Upgrade{Rollback: true, want: map[string]string{"n1": "2.13.0"}}).InventoryNote(inv); !strings.Contains(note, "release 2.14.9") {
		t.Errorf("rollback to another release than nats.binary's: %q", note)
	}
}
