package templates_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/pki"
)

// oneCluster is a 3-node deployment with nothing but a backbone: enough for
// routes, clients and the monitoring endpoint.
func oneCluster() testcluster.Spec {
	return testcluster.Spec{AppAccount: "APP", AppUser: "app-user", SysAccount: "SYSTEM", SysUser: "sys-user",
		Clusters: []testcluster.ClusterSpec{{Name: "MESH", Domain: "dom", Nodes: []testcluster.NodeSpec{{Name: "m-1", DC: "x"}, {Name: "m-2", DC: "x"}, {Name: "m-3", DC: "y"}}}}}
}

// TestTLSRefusesPlaintextClients: the client port requires TLS; a client
// that verifies the server against the deployment's CA gets in, a
// plaintext one and one that does not know the CA do not.
func TestTLSRefusesPlaintextClients(t *testing.T) {
	c := testcluster.Start(t, testcluster.WriteInventory(t, oneCluster()))
	user, pw := c.AppUser()
	url := c.Inv.Nodes[0].ClientURL()

	nc, err := nats.Connect(url, append(c.ClientOptions(), nats.UserInfo(user, pw), nats.NoReconnect())...)
	if err != nil {
		t.Fatalf("TLS client verifying the CA: %v", err)
	}
	nc.Close()

	// A client that trusts another CA refuses the server: dcctl's own
	// connections verify the same way.
	other, err := pki.NewCA("elsewhere", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(other.Cert)
	if nc, err := nats.Connect(url, nats.Secure(&tls.Config{RootCAs: pool}), nats.UserInfo(user, pw), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Error("a client trusting another CA connected")
	}

	// A plaintext client: nats.go sees tls_required in INFO and fails
	// rather than upgrade without a config; the raw protocol shows the
	// server closing a CONNECT sent in the clear.
	if nc, err := nats.Connect(url, nats.UserInfo(user, pw), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Error("a client without the CA connected")
	}
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "nats://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), `"tls_required":true`) {
		t.Fatalf("INFO %q (%v): want tls_required", buf[:n], err)
	}
	fmt.Fprintf(conn, "CONNECT {\"user\":%q,\"pass\":%q,\"verbose\":true}\r\nPING\r\n", user, pw)
	var got strings.Builder
	for {
		n, err := conn.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if strings.Contains(got.String(), "PONG") || strings.Contains(got.String(), "+OK") {
		t.Errorf("a plaintext CONNECT was answered: %q", got.String())
	}
}

// rogue starts a nats-server with the deployment's cluster name and a route
// to member, as whoever reaches the cluster port could; tlsDir, if set,
// holds the certificate it shows (and the CA it trusts).
func rogue(t *testing.T, name, cluster string, member int, tlsFiles *[3]string) *server.Server {
	t.Helper()
	o := &server.Options{ServerName: name, Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		Cluster: server.ClusterOpts{Name: cluster, Host: "127.0.0.1", Port: -1}}
	o.Routes = server.RoutesFromStr(fmt.Sprintf("nats-route://127.0.0.1:%d", member))
	if tlsFiles != nil {
		cfg := routeTLS(t, tlsFiles)
		o.Cluster.TLSConfig, o.Cluster.TLSTimeout = cfg, 5
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("rogue server not ready")
	}
	return s
}

// issueFrom writes a key and certificate for name, covering 127.0.0.1,
// from ca, and returns their paths with the CA's.
func issueFrom(t *testing.T, ca *pki.CA, name string) *[3]string {
	t.Helper()
	nc, err := ca.Issue(name, pki.Names{DNS: []string{name}, IPs: []string{"127.0.0.1"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := [3]string{filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")}
	for i, data := range [][]byte{nc.CertPEM, nc.KeyPEM, ca.CertPEM} {
		if err := os.WriteFile(out[i], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &out
}

// routeTLS is a cluster block's TLS as nats-server's config parser builds
// it: both ends of a route verify the other against the CA.
func routeTLS(t *testing.T, files *[3]string) *tls.Config {
	t.Helper()
	cfg, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: files[0], KeyFile: files[1], CaFile: files[2], Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.RootCAs = cfg.ClientCAs
	return cfg
}

func routeNames(t *testing.T, s *server.Server) map[string]bool {
	t.Helper()
	rz, err := s.Routez(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, r := range rz.Routes {
		out[r.RemoteName] = true
	}
	return out
}

// TestRogueServerCannotJoin: servers with the cluster name and a route to
// a member never become routes: one in plaintext, one with a certificate
// from another CA, and one with a certificate from the deployment's CA but
// without the route password. A control server that has both joins, so
// the wait is bounded by something that does happen.
func TestRogueServerCannotJoin(t *testing.T) {
	c := testcluster.Start(t, testcluster.WriteInventory(t, oneCluster()))
	m := c.Inv.Nodes[0]
	cluster := c.Inv.ClusterOf(m).Name
	mat, err := pki.Load(c.Inv)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("elsewhere", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rogue(t, "rogue-plain", cluster, m.Ports.Cluster, nil)
	rogue(t, "rogue-other-ca", cluster, m.Ports.Cluster, issueFrom(t, other, "rogue-other-ca"))
	rogue(t, "rogue-no-password", cluster, m.Ports.Cluster, issueFrom(t, mat.CA, "rogue-no-password"))

	// The control: the CA's certificate and the route password.
	files := issueFrom(t, mat.CA, "control")
	pw, _ := c.Secrets.Route()
	cfg := routeTLS(t, files)
	o := &server.Options{ServerName: "control", Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		Cluster: server.ClusterOpts{Name: cluster, Host: "127.0.0.1", Port: -1, TLSConfig: cfg, TLSTimeout: 5}}
	o.Routes = server.RoutesFromStr(fmt.Sprintf("nats-route://dcctl-route:%s@127.0.0.1:%d", pw, m.Ports.Cluster))
	ctrl, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go ctrl.Start()
	t.Cleanup(ctrl.Shutdown)

	member := c.Server(m.Name)
	testwait.Eventually(t, 60*time.Second, "the control server routed to "+m.Name, func() error {
		if !routeNames(t, member)["control"] {
			return fmt.Errorf("routes %v", routeNames(t, member))
		}
		return nil
	})
	for _, n := range c.Inv.Nodes {
		for name := range routeNames(t, c.Server(n.Name)) {
			if strings.HasPrefix(name, "rogue") {
				t.Errorf("%s has a route to %s", n.Name, name)
			}
		}
	}
}

// TestRouteBetweenTLSAndPlaintext measures what a rolling move from
// plaintext routes to TLS would meet: a server whose cluster port requires
// TLS and one without TLS, each with a route to the other, never connect
// (in either direction). A cluster half moved is two clusters.
func TestRouteBetweenTLSAndPlaintext(t *testing.T) {
	ca, err := pki.NewCA("measure", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	files := issueFrom(t, ca, "tls-side")
	cfg := routeTLS(t, files)
	start := func(o *server.Options) *server.Server {
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(s.Shutdown)
		if !s.ReadyForConnections(30 * time.Second) {
			t.Fatal("not ready")
		}
		return s
	}
	tlsSide := start(&server.Options{ServerName: "tls-side", Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		Cluster: server.ClusterOpts{Name: "C", Host: "127.0.0.1", Port: -1, TLSConfig: cfg, TLSTimeout: 5}})
	plainSide := start(&server.Options{ServerName: "plain-side", Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		Cluster: server.ClusterOpts{Name: "C", Host: "127.0.0.1", Port: -1},
		Routes:  server.RoutesFromStr(fmt.Sprintf("nats-route://127.0.0.1:%d", tlsSide.ClusterAddr().Port))})
	// A third server with TLS and a route to the TLS side is the control:
	// once it has joined, the plaintext one had as long to join too.
	files2 := issueFrom(t, ca, "tls-control")
	cfg2 := routeTLS(t, files2)
	start(&server.Options{ServerName: "tls-control", Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		Cluster: server.ClusterOpts{Name: "C", Host: "127.0.0.1", Port: -1, TLSConfig: cfg2, TLSTimeout: 5},
		Routes:  server.RoutesFromStr(fmt.Sprintf("nats-route://127.0.0.1:%d,nats-route://127.0.0.1:%d", tlsSide.ClusterAddr().Port, plainSide.ClusterAddr().Port))})
	testwait.Eventually(t, 60*time.Second, "the TLS control joined", func() error {
		if !routeNames(t, tlsSide)["tls-control"] {
			return fmt.Errorf("routes of tls-side %v", routeNames(t, tlsSide))
		}
		return nil
	})
	if r := routeNames(t, tlsSide); r["plain-side"] {
		t.Errorf("a plaintext server routed to a TLS one: %v", r)
	}
	if r := routeNames(t, plainSide); len(r) > 0 {
		t.Errorf("the plaintext server has routes %v", r)
	}
}
