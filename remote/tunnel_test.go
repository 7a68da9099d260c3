package remote

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestDialThroughTheConnection(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)

	// A TCP echo server standing in for a NATS port on the host.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(conn, conn); conn.Close() }()
		}
	}()

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := c.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("DialContext: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "PING\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "PING\r\n" {
		t.Fatalf("echo through the tunnel: %q, %v", buf, err)
	}

	// A refused port is an error naming the address and the host.
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln2.Addr().String()
	ln2.Close()
	_, err = c.Dial("tcp", closed)
	if err == nil || !strings.Contains(err.Error(), closed) || !strings.Contains(err.Error(), c.Name()) {
		t.Fatalf("dial of a closed port: got %v, want an error naming %s and %s", err, closed, c.Name())
	}
}
