package provision

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/dcctl/dcctl/internal/sshtest"
)

// TestAcceptedHostKeysAreReported: with AcceptNewHostKeys, every key added
// to known_hosts is reported to HostKeyLog with its host and fingerprint;
// a host already known is not reported again.
func TestAcceptedHostKeysAreReported(t *testing.T) {
	dir := t.TempDir()
	keyFile, signer := sshtest.ClientKey(t, dir)
	srv := sshtest.NewServer(t, signer.PublicKey())
	knownHosts := filepath.Join(dir, "known_hosts") // absent: first contact
	inv := srv.Inventory(t, dir, keyFile, knownHosts, "", "")
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
