package provision

import (
	"sync"
	"testing"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
)

// fixtureTLS is one made-up CA for the package's tests and the
// certificates it issued, by node name and host, so that two fixtures of
// an inventory render the same TLS files (certificates are random) and
// plans compare like with like.
var fixtureTLS = struct {
	sync.Mutex
	ca    *pki.CA
	certs map[string]*pki.NodeCert
}{certs: map[string]*pki.NodeCert{}}

// withTLS gives sec certificates for every node of inv.
func withTLS(t testing.TB, inv *inventory.Inventory, sec *inventory.Secrets) {
	t.Helper()
	fixtureTLS.Lock()
	defer fixtureTLS.Unlock()
	var err error
	if fixtureTLS.ca == nil {
		if fixtureTLS.ca, err = pki.NewCA("provision tests", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	ca := fixtureTLS.ca
	nodes := map[string]inventory.NodeTLS{}
	for _, n := range inv.Nodes {
		key := n.Name + "@" + n.Host
		nc := fixtureTLS.certs[key]
		if nc == nil {
			if nc, err = ca.Issue(n.Name, pki.NamesFor(n), time.Now()); err != nil {
				t.Fatal(err)
			}
			fixtureTLS.certs[key] = nc
		}
		nodes[n.Name] = inventory.NodeTLS{CA: ca.CertPEM, Cert: nc.CertPEM, Key: nc.KeyPEM}
	}
	sec.SetTLS(ca.CertPEM, nodes)
}
