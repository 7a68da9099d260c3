package provision

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/dcctl/dcctl/internal/sshtest"
	"github.com/dcctl/dcctl/inventory"
)

// TestAcceptedHostKeysAreReported: with AcceptNewHostKeys, every key added
// to known_hosts is reported to HostKeyLog with its host and fingerprint;
// a host already known is not reported again.
func TestAcceptedHostKeysAreReported(t *testing.T) {
	dir := t.TempDir()
	keyFile, signer := sshtest.ClientKey(t, dir)
	srv := sshtest.NewServer(t, signer.PublicKey())
	knownHosts := filepath.Join(dir, "known_hosts") // absent: first contact
	text := fmt.Sprintf(`[defaults]
ssh_port = %d
ssh_key = %q
known_hosts = %q

[accounts.APP]
jetstream = true
users = ["app"]

[accounts.SYSTEM]
system = true
users = ["ops"]

[clusters.C]
domain = "d"

[nodes.n1]
cluster = "C"
dc = "x"
host = "127.0.0.1"
`, srv.Port(), keyFile, knownHosts)
	invFile := filepath.Join(dir, "inv.toml")
	if err := os.WriteFile(invFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(invFile)
	if err != nil {
		t.Fatal(err)
	}
	for round, want := range []int{1, 0} {
		var log bytes.Buffer
		s := NewSession(inv, nil, SessionOptions{AcceptNewHostKeys: true, HostKeyLog: &log})
		if errs := s.Connect(t.Context(), inv.Nodes); errs["n1"] != nil {
			t.Fatal(errs["n1"])
		}
		s.Close()
		fp := ssh.FingerprintSHA256(srv.HostKeys[0].PublicKey())
		line := fmt.Sprintf("added host key of n1 (%s) to %s: ssh-ed25519 %s\n", srv.Addr, knownHosts, fp)
		if got := strings.Count(log.String(), line); got != want || strings.Count(log.String(), "\n") != want {
			t.Errorf("round %d: log %q, want %d time(s) %q", round+1, log.String(), want, line)
		}
	}
}
