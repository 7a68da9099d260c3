package remote

import (
	"context"
	"fmt"
	"net"
)

// Dial opens a TCP connection from the host to addr, carried over this SSH
// connection (a direct-tcpip channel, like ssh -L). addr is resolved on the
// host, so "127.0.0.1:4222" is the host's own loopback.
func (c *Client) Dial(network, addr string) (net.Conn, error) {
	conn, err := c.conn.Dial(network, addr)
	if err != nil {
		return nil, c.explain(fmt.Errorf("dial %s via %s: %w", addr, c.name, err))
	}
	return conn, nil
}

// DialContext is Dial bounded by ctx. It has the signature of
// net.Dialer.DialContext, which is what nats.SetCustomDialer-style hooks and
// the jetstream package take.
func (c *Client) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.conn.DialContext(ctx, network, addr)
	if err != nil {
		return nil, c.explain(fmt.Errorf("dial %s via %s: %w", addr, c.name, err))
	}
	return conn, nil
}
