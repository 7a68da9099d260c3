package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/provision"
)

// presentedCerts reads the certificate each TLS listener of every active
// node shows a new connection (client, cluster, and leafnode on hub
// nodes), dialling the node's address from the test, and fails unless each
// node shows one certificate on all of them. trust verifies the servers;
// the node's own certificate from the TLS directory is shown in return.
func presentedCerts(t *testing.T, inv *inventory.Inventory, trust []byte) map[string]*x509.Certificate {
	t.Helper()
	m, err := pki.Load(inv)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(trust)
	out := map[string]*x509.Certificate{}
	for _, n := range inv.Nodes {
		if n.Standby {
			continue
		}
		own := m.Cert(n.Name)
		kp, err := tls.X509KeyPair(own.CertPEM, own.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		ports := map[string]int{"client": n.Ports.Client, "cluster": n.Ports.Cluster}
		if inv.ClusterOf(n).LeafOf == "" {
			ports["leafnode"] = n.Ports.Leafnode
		}
		for what, port := range ports {
			conn, err := net.DialTimeout("tcp", net.JoinHostPort(n.Addr(), strconv.Itoa(port)), 5*time.Second)
			if err != nil {
				t.Fatalf("%s %s port: %v", n.Name, what, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, err := provision.PresentedCert(ctx, conn, what != "cluster", &tls.Config{RootCAs: pool, ServerName: n.Addr(), Certificates: []tls.Certificate{kp}})
			cancel()
			if err != nil {
				t.Fatalf("%s %s port: %v", n.Name, what, err)
			}
			if prev, ok := out[n.Name]; ok && !prev.Equal(c) {
				t.Errorf("%s shows another certificate on its %s port than on the others", n.Name, what)
			}
			out[n.Name] = c
		}
	}
	return out
}

// TestRotateCerts: on the lab, while clients publish with acks to a
// backbone and a leaf domain, rotate-certs, then a move to a new CA
// (--new-ca, the clients given the bundle, --finish). Afterwards every
// acknowledged message is there; after the renewal every node shows a new
// certificate from the same CA on every listener, after --finish one from
// the new CA, and a client trusting only the old CA is refused; provision
// has nothing left to do after each run, and the deployment ends healthy
// (routes and leaf links up).
func TestRotateCerts(t *testing.T) {
	d := newDrillLab(t)
	invFile := labInventory(t)
	inv := mustLoad(t, invFile)
	oldCA, err := os.ReadFile(pki.CAPath(invFile))
	if err != nil {
		t.Fatal(err)
	}
	// clients publishing with acks, trusting what dcctl says clients
	// should trust when they connect
	publishers := func(d *drillLab, tag string) []*livePublisher {
		var pubs []*livePublisher
		for _, cl := range inv.Clusters[:2] { // the backbone and a leaf cluster
			name := "CERTS_" + tag + "_" + strings.ToUpper(cl.Domain)
			subj := "certs." + strings.ToLower(tag) + "." + cl.Domain + "."
			d.freshStream(cl.Domain, njs.StreamConfig{Name: name, Subjects: []string{subj + ">"}, Replicas: 3}, 0)
			pubs = append(pubs, d.publishLive(cl.Domain, name, subj))
		}
		for _, p := range pubs {
			p.waitAcked(t, 10)
		}
		return pubs
	}
	// provision has nothing left to do; status (routes, leaf links,
	// streams) is asked once the publishers stopped.
	settled := func(what string) {
		t.Helper()
		if out, _, code := runDcctl(t, "plan", invFile); code != 0 || !strings.Contains(out, "0 of") {
			t.Errorf("plan after %s: exit %d\n%s", what, code, out)
		}
	}
	run := func(args ...string) {
		t.Helper()
		out, errOut, code := runDcctl(t, append(append([]string{"runbook", "rotate-certs"}, args...), "--yes", "-i", invFile)...)
		if code != 0 {
			t.Fatalf("rotate-certs %v: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}
	verify := func(c *x509.Certificate, ca []byte) error {
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(ca)
		_, err := c.Verify(x509.VerifyOptions{Roots: roots})
		return err
	}

	pubs := publishers(d, "A")
	before := presentedCerts(t, inv, oldCA)
	run()
	m, err := pki.Load(inv)
	if err != nil {
		t.Fatal(err)
	}
	for node, c := range presentedCerts(t, inv, oldCA) {
		if c.Equal(before[node]) {
			t.Errorf("%s still shows its certificate from before the renewal", node)
		}
		if !c.Equal(m.Cert(node).Cert) {
			t.Errorf("%s shows %s, the TLS directory holds %s", node, pki.CertFingerprint(c), pki.Fingerprint(m.Cert(node).CertPEM))
		}
	}
	settled("the renewal")

	// The move to a new CA: the first run changes nothing for clients.
	run("--new-ca")
	for node, c := range presentedCerts(t, inv, oldCA) {
		if err := verify(c, oldCA); err != nil {
			t.Errorf("after --new-ca %s shows a certificate not from the old CA: %v", node, err)
		}
	}
	settled("--new-ca")
	// The clients are given the bundle (a fresh connection reads it).
	later := publishers(openDrillLab(t, invFile), "B")
	for _, p := range pubs {
		p.check(t)
	}
	retiredGlob := filepath.Join(pki.Dir(invFile), pki.RetiredDir, "ca-*.pem")
	retiredBefore, _ := filepath.Glob(retiredGlob) // the lab's TLS directory outlives the lab
	run("--finish")
	for _, p := range later {
		p.waitAcked(t, 10)
		p.check(t)
	}
	newCA, err := os.ReadFile(pki.CAPath(invFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(newCA) == string(oldCA) {
		t.Fatal("the CA is the same after --finish")
	}
	for node, c := range presentedCerts(t, inv, newCA) {
		if err := verify(c, newCA); err != nil {
			t.Errorf("after --finish %s shows a certificate not from the new CA: %v", node, err)
		}
	}
	app := inv.JetStreamAccounts()[0].Users[0]
	sec, err := inventory.LoadSecrets(inv, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(oldCA)
	for _, cl := range inv.Clusters {
		url := cl.Active()[0].ClientURL()
		if nc, err := nats.Connect(url, nats.UserInfo(app, sec.Password(app)), nats.Secure(&tls.Config{RootCAs: pool}), nats.NoReconnect(), nats.Timeout(5*time.Second)); err == nil {
			nc.Close()
			t.Errorf("%s: a client trusting only the old CA connected after --finish", url)
		}
	}
	retired, _ := filepath.Glob(retiredGlob)
	var kept bool
	for _, f := range retired {
		if data, err := os.ReadFile(f); err == nil && !slices.Contains(retiredBefore, f) && string(data) == string(oldCA) {
			kept = true
		}
	}
	if len(retired) != len(retiredBefore)+2 || !kept {
		t.Errorf("the old CA's certificate and key in retired/: %v (before --finish: %v)", retired, retiredBefore)
	}
	settled("--finish")
	testwait.Eventually(t, time.Minute, "status healthy after the rotations", func() error {
		if out, errOut, code := runDcctl(t, "status", invFile); code != 0 {
			return fmt.Errorf("exit %d\n%s\n%s", code, out, errOut)
		}
		return nil
	})
}
