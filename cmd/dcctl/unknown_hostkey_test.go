package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/sshtest"
)

// TestUnknownHostKeySaysHow: a host whose key known_hosts lacks (a first
// provision with an empty known_hosts) is not only "unreachable": stderr
// names it and says to check its fingerprint and rerun with
// --accept-new-host-keys. Provision's first refusal used to say only that
// no host answered and that the CA could not be checked on unreachable
// hosts.
func TestUnknownHostKeySaysHow(t *testing.T) {
	dir := t.TempDir()
	keyFile, signer := sshtest.ClientKey(t, dir)
	srv := sshtest.NewServer(t, signer.PublicKey())
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nats-server"), []byte("not run"), 0o755); err != nil {
		t.Fatal(err)
	}
	inv := srv.Inventory(t, dir, keyFile, knownHosts, "", `binary = "nats-server"`)
	_, stderr, code := runCLI(t, "provision", "--ssh-timeout", "2s", inv.File)
	if code != 2 {
		t.Fatalf("provision with an unknown host key: exit %d, want 2 (refused):\n%s", code, stderr)
	}
	for _, want := range []string{"n1", "not in " + knownHosts, "--accept-new-host-keys"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
