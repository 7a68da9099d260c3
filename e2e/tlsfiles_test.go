package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/dcctl/dcctl/pki"
)

// copyTLS gives the inventory copy to the lab's TLS directory (CA and node
// certificates): a copy of the deployment is the same deployment, and
// provision refuses to make up a new CA for hosts that have one.
func copyTLS(t *testing.T, to string) {
	t.Helper()
	from := pki.Dir(labInventory(t))
	dst := pki.Dir(to)
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatalf("the lab's TLS directory: %v", err)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dst) })
	for _, e := range entries {
		if e.IsDir() {
			continue // retired/: CAs no longer in use
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// labCA is how the tests' own NATS clients verify the lab's servers: the
// CA file dcctl wrote beside the lab inventory.
func labCA(t testing.TB) nats.Option {
	t.Helper()
	return nats.RootCAs(pki.CAPath(labInventory(t)))
}

// labKeyMaterial returns the body of every private key in the lab's TLS
// directory (one base64 line of each is enough to recognise it), for the
// secrets scan.
func labKeyMaterial(t testing.TB) []string {
	t.Helper()
	dir := pki.Dir(labInventory(t))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("the lab's TLS directory: %v", err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), "-key.pem") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
				out = append(out, line)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no private keys in %s", dir)
	}
	return out
}
