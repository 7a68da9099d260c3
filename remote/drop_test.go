package remote

import (
	"strings"
	"testing"
)

// TestConnectionDroppedSaysSo: a host whose sshd goes away mid-run (its
// connections closed, new ones refused) fails the next command with the
// host's name and the connection's fate, not a bare "EOF".
func TestConnectionDroppedSaysSo(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)
	if _, _, err := c.Run(t.Context(), "true"); err != nil {
		t.Fatal(err)
	}
	e.srv.Drop()
	c.conn.Wait() // the client has seen the end: its next session gets EOF
	_, _, err := c.Run(t.Context(), "true")
	if err == nil {
		t.Fatal("Run on a dropped connection succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, c.Name()) || !strings.Contains(msg, "connection was lost") {
		t.Fatalf("Run on a dropped connection: %v", err)
	}
	t.Log(msg)
}
