package provision

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/dcctl/dcctl/inventory"
)

// A change of a node's monitoring endpoint (http_port, nats.monitoring, TLS)
// takes effect only when the node restarts: until then its server answers
// where and how its old config says, and the health gates, which read every
// node of the cluster there, must look for it where it is. Apply records
// the old endpoint of each node whose config moves it and forgets it once
// the node has restarted.

// monitorBase is where and how node's monitoring endpoint answers now, as
// "http://host:port" or "https://host:port".
func (s *Session) monitorBase(n *inventory.Node) string {
	s.mu.Lock()
	old := s.monitorAt[n.Name]
	s.mu.Unlock()
	if old != "" {
		return old
	}
	return monitorURL(s.Inv, n)
}

// monitorURL is the monitoring endpoint the inventory gives node.
func monitorURL(inv *inventory.Inventory, n *inventory.Node) string {
	scheme := "http://"
	if inv.MonitorHTTPS() {
		scheme = "https://"
	}
	return scheme + inv.MonitorAddr(n)
}

// servesMonitorAt records that node's running server answers at base
// (scheme://host:port), not where the inventory says; "" forgets it.
func (s *Session) servesMonitorAt(node, base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.monitorAt == nil {
		s.monitorAt = map[string]string{}
	}
	if base == "" {
		delete(s.monitorAt, node)
		return
	}
	s.monitorAt[node] = base
}

// monitorEndpoint reads the monitoring endpoint of a rendered config (its
// `http:` or `https:` line) as scheme://host:port; "" when there is none.
func monitorEndpoint(config []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(config))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		for _, scheme := range []string{"https", "http"} {
			v, ok := strings.CutPrefix(line, scheme+":")
			if !ok {
				continue
			}
			v = strings.Trim(strings.TrimSpace(v), `"`)
			if _, _, err := net.SplitHostPort(v); err != nil {
				return ""
			}
			return scheme + "://" + v
		}
	}
	return ""
}

// monitorClient is the HTTP client that reaches node's monitoring endpoint
// at base: through the SSH connection to its host (the endpoint listens on
// 127.0.0.1 there by default), or straight with Direct when the endpoint
// is reachable from here (open on the node's address, or the node runs on
// this machine). HTTPS is verified against the deployment's CA.
//
// One client per node and base for the session, its connections kept
// alive: the waits poll each node every 100 ms, and a connection per
// request was a tunnel opened through the host's sshd, a TCP (and with
// HTTPS a TLS) handshake with its server and a round trip more, on hosts
// busy starting their servers. A request on a kept connection that the
// server closed meanwhile (it restarted) is sent again on a new one by
// net/http (a GET may be); Forget and Close drop a node's clients.
func (s *Session) monitorClient(n *inventory.Node, base string) *http.Client {
	key := monitorKey{node: n.Name, base: base}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.monitors[key]; c != nil {
		return c
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := s.Client(ctx, n.Name)
		if err != nil {
			return nil, err
		}
		return c.DialContext(ctx, network, addr)
	}
	host := strings.TrimPrefix(strings.TrimPrefix(base, "https://"), "http://")
	if s.opts.Direct && (!isLoopback(host) || isLoopback(net.JoinHostPort(n.Host, "0"))) {
		var d net.Dialer
		dial = d.DialContext
	}
	// A node's waits, its domain's gates and status read it at once: a few
	// connections each (healthz, /jsz, /leafz), closed after a while idle.
	tr := &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
	if ca := s.Secrets.TLSCA(); len(ca) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if s.monitors == nil {
		s.monitors = map[monitorKey]*http.Client{}
	}
	c := &http.Client{Transport: tr}
	s.monitors[key] = c
	return c
}

// monitorKey names a kept monitoring client: a node, and where its
// endpoint answers (which moves when its config does).
type monitorKey struct{ node, base string }

// dropMonitors closes the kept monitoring connections of node, or of every
// node when node is ""; the caller holds s.mu.
func (s *Session) dropMonitors(node string) {
	for k, c := range s.monitors {
		if node == "" || k.node == node {
			c.CloseIdleConnections()
			delete(s.monitors, k)
		}
	}
}

func isLoopback(hostport string) bool {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
