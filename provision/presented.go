package provision

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// PresentedCert reads the certificate a nats-server listener shows a new
// connection on conn. On the client and leafnode ports the server speaks
// first (its INFO line, in the clear), then the TLS handshake (infoFirst);
// on the cluster port the handshake comes first. cfg verifies the server (RootCAs,
// ServerName) and carries the certificate to show in return, which route
// and leafnode listeners require. Nothing is sent after the handshake: the
// server drops the connection once its login times out.
func PresentedCert(ctx context.Context, conn net.Conn, infoFirst bool, cfg *tls.Config) (*x509.Certificate, error) {
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	} else {
		conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	// Read byte by byte up to the end of INFO: a buffered reader could
	// swallow the start of the server's handshake.
	if infoFirst {
		line, err := bufio.NewReaderSize(oneByte{conn}, 16).ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("read INFO: %w", err)
		}
		if !strings.HasPrefix(line, "INFO ") {
			return nil, fmt.Errorf("expected INFO, got %q", truncate(line, 40))
		}
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, errors.New("TLS handshake: no certificate presented")
	}
	return certs[0], nil
}

// oneByte reads at most one byte per call, so that bufio never reads past
// what it is asked for.
type oneByte struct{ c net.Conn }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.c.Read(p)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// PresentedCerts reads the certificate each of node's TLS listeners shows
// a new connection (client, cluster and, on a hub node, leafnode), reached
// like dcctl's NATS connections (through SSH unless Direct). The server is
// verified against the CAs the session trusts; the node's own certificate
// is shown in return. It is the proof a rotation waits for: what a file on
// the host says is not what the running server uses until it reloads.
func (s *Session) PresentedCerts(ctx context.Context, node string) (map[string]*x509.Certificate, error) {
	n := s.Inv.Node(node)
	if n == nil {
		return nil, fmt.Errorf("no node %s in the inventory", node)
	}
	own, ok := s.Secrets.NodeTLS(node)
	if !ok {
		return nil, fmt.Errorf("%s: no TLS certificate of its own at hand", node)
	}
	kp, err := tls.X509KeyPair(own.Cert, own.Key)
	if err != nil {
		return nil, fmt.Errorf("%s: its certificate and key: %w", node, err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.Secrets.TLSCA())
	ports := map[string]int{"client": n.Ports.Client, "cluster": n.Ports.Cluster}
	for _, cl := range s.Inv.Clusters {
		if cl.LeafOf == s.Inv.ClusterOf(n).Name {
			ports["leafnode"] = n.Ports.Leafnode
		}
	}
	out := map[string]*x509.Certificate{}
	for what, port := range ports {
		addr := net.JoinHostPort(n.Addr(), strconv.Itoa(port))
		conn, err := s.dialNATS(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%s %s port: %w", node, what, err)
		}
		cert, err := PresentedCert(ctx, conn, what != "cluster", &tls.Config{RootCAs: pool, ServerName: n.Addr(),
			Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS12})
		if err != nil {
			return nil, fmt.Errorf("%s %s port (%s): %w", node, what, addr, err)
		}
		out[what] = cert
	}
	return out, nil
}
