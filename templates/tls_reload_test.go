package templates_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/provision"
	"github.com/dcctl/dcctl/templates"
)

// What a certificate rotation can rely on, measured with embedded
// nats-servers started from rendered configs (docs/security.md, rotate-certs).

// hubAndLeaf is a 2-node hub and a 2-node leaf cluster: routes, a leafnode
// listener and a leafnode remote.
func hubAndLeaf() testcluster.Spec {
	return testcluster.Spec{AppAccount: "APP", AppUser: "app-user", SysAccount: "SYSTEM", SysUser: "sys-user",
		Clusters: []testcluster.ClusterSpec{
			{Name: "CORE", Domain: "core", Nodes: []testcluster.NodeSpec{{Name: "c-1", DC: "x"}, {Name: "c-2", DC: "y"}}},
			{Name: "EDGE", Domain: "edge", LeafOf: "CORE", Nodes: []testcluster.NodeSpec{{Name: "e-1", DC: "x"}, {Name: "e-2", DC: "y"}}}}}
}

// presented is the certificate node shows a new connection on port; show
// is the certificate it shows in return (routes and leafnode listeners
// want one), trust the CAs it verifies the server with.
func presented(t *testing.T, port int, infoFirst bool, show tls.Certificate, trust []byte) (*x509.Certificate, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(trust)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return provision.PresentedCert(ctx, conn, infoFirst, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{show}, MinVersion: tls.VersionTLS12})
}

func keyPair(t *testing.T, nc *pki.NodeCert) tls.Certificate {
	t.Helper()
	kp, err := tls.X509KeyPair(nc.CertPEM, nc.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func writeTLS(t *testing.T, c *testcluster.Cluster, node, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(c.NodeDir(node), name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestNATSReloadTakesNewCertificatesAndCA: a reload (what SIGHUP does)
// makes a server show its new certificate on the client, cluster and
// leafnode listeners and trust the CAs its ca_file names now, and closes
// none of the routes and links made before; its leafnode remotes, though,
// keep the TLS files the server started with: a leaf node must restart.
func TestNATSReloadTakesNewCertificatesAndCA(t *testing.T) {
	c := testcluster.Start(t, testcluster.WriteInventory(t, hubAndLeaf()))
	mat, err := pki.Load(c.Inv)
	if err != nil {
		t.Fatal(err)
	}
	old := mat.CA
	next, err := pki.NewCA("next", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bundle := append(append([]byte{}, old.CertPEM...), next.CertPEM...)
	leafOf := func(n *inventory.Node) bool { return c.Inv.ClusterOf(n).LeafOf == "" }

	// 1. Every server trusts both CAs.
	for _, n := range c.Inv.Nodes {
		writeTLS(t, c, n.Name, templates.TLSCAName, bundle)
		if err := c.Reload(n.Name); err != nil {
			t.Fatalf("reload %s with both CAs: %v", n.Name, err)
		}
	}
	// 2. Node by node, a certificate from the new CA, reloaded: every
	// listener shows it at once.
	for _, n := range c.Inv.Nodes {
		nc, err := next.Issue(n.Name, pki.NamesFor(n), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		writeTLS(t, c, n.Name, templates.TLSCertName, nc.CertPEM)
		writeTLS(t, c, n.Name, templates.TLSKeyName, nc.KeyPEM)
		if err := c.Reload(n.Name); err != nil {
			t.Fatalf("reload %s with a new certificate: %v", n.Name, err)
		}
		ports := map[string]int{"client": n.Ports.Client, "cluster": n.Ports.Cluster}
		if leafOf(n) {
			ports["leafnode"] = n.Ports.Leafnode
		}
		for what, port := range ports {
			got, err := presented(t, port, what != "cluster", keyPair(t, nc), bundle)
			if err != nil {
				t.Fatalf("%s %s port: %v", n.Name, what, err)
			}
			if !got.Equal(nc.Cert) {
				t.Errorf("%s %s port after the reload: shows %s, want the new certificate", n.Name, what, got.Issuer.CommonName)
			}
		}
	}
	// 3. Every server trusts the new CA only.
	for _, n := range c.Inv.Nodes {
		writeTLS(t, c, n.Name, templates.TLSCAName, next.CertPEM)
		if err := c.Reload(n.Name); err != nil {
			t.Fatalf("reload %s with the new CA alone: %v", n.Name, err)
		}
	}
	// The routes and the leafnode link made before any of this are still
	// up: reloads close no TLS connection.
	if n := len(routeNames(t, c.Server("c-1"))); n == 0 {
		t.Error("c-1 lost its route during the reloads")
	}
	if c.Server("e-1").NumLeafNodes() == 0 {
		t.Error("e-1 lost its leafnode link during the reloads")
	}

	// A node whose certificate is from the old CA is refused now.
	stale, err := old.Issue("stale", pki.Names{IPs: []string{"127.0.0.1"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := refused(t, c.Inv.Nodes[0].Ports.Cluster, keyPair(t, stale), next.CertPEM); err != nil {
		t.Error(err)
	}

	// The leafnode remotes are the exception: a leaf node dials the hub
	// with the TLS files it was started with, reload or not. With the hub
	// gone and back (trusting the new CA alone), the leaf node restarted
	// since links up, and one only reloaded has had as long and does not.
	c.Stop("c-2")
	c.Stop("c-1")
	c.Start("c-1")
	c.Stop("e-2")
	c.Start("e-2")
	linked := func() map[string]bool {
		lz, err := c.Server("c-1").Leafz(nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, l := range lz.Leafs {
			out[l.Name] = true
		}
		return out
	}
	testwait.Eventually(t, 60*time.Second, "the restarted leaf node e-2 linked to c-1", func() error {
		if !linked()["e-2"] {
			return fmt.Errorf("leaf links of c-1: %v", linked())
		}
		return nil
	})
	if linked()["e-1"] {
		t.Error("e-1, reloaded with the new CA but not restarted, linked to a hub trusting the new CA alone: its remotes took the reload after all (a rotation could reload leaf nodes too)")
	}
	c.Stop("e-1")
	c.Start("e-1")
	testwait.Eventually(t, 60*time.Second, "the restarted leaf node e-1 linked to c-1", func() error {
		if !linked()["e-1"] {
			return fmt.Errorf("leaf links of c-1: %v", linked())
		}
		return nil
	})
}

// refused reports nil when a server's cluster port refuses show: the handshake
// fails, or the server closes the connection right after it (TLS 1.3
// checks the client's certificate after the client's side is done).
func refused(t *testing.T, port int, show tls.Certificate, trust []byte) error {
	t.Helper()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(trust)
	tc := tls.Client(conn, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{show}})
	if err := tc.Handshake(); err != nil {
		return nil
	}
	// nothing sent: a server that accepted waits for CONNECT; one that
	// refused has sent an alert.
	_, err = tc.Read(buf)
	if err != nil && strings.Contains(err.Error(), "certificate") {
		return nil
	}
	return fmt.Errorf("a certificate from the old CA was not refused (read: %v)", err)
}
