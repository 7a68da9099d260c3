package sshtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// Inventory writes to dir and loads an inventory whose node n1 of cluster C
// (domain d, accounts APP and SYSTEM) is reached over SSH at s
// with keyFile, checking its host key against knownHosts. defaults and
// nats are more TOML lines for those tables ("sudo = true",
// `service = "x"`), for what a test is about.
func (s *Server) Inventory(t testing.TB, dir, keyFile, knownHosts, defaults, nats string) *inventory.Inventory {
	t.Helper()
	text := fmt.Sprintf(`[defaults]
ssh_port = %d
ssh_key = %q
known_hosts = %q
%s
[nats]
%s
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

# A cluster needs two nodes (one alone elects no meta leader); tests reach n1 only.
[nodes.n2]
cluster = "C"
dc = "x"
host = "127.0.0.2"
`, s.Port(), keyFile, knownHosts, defaults, nats)
	file := filepath.Join(dir, "inventory.toml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(file)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return inv
}
