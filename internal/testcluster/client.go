package testcluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"
)

// JetStream returns an independent client (nats.go only, none of dcctl's
// code) of domain's JetStream API, as the application user, for setting up
// streams and reading outcomes without the code under test. It connects to
// the servers of domain's own cluster, so API requests need no leafnode hop
// (whose interest propagates asynchronously), and reconnects without limit,
// since tests stop and start servers under it. The connection closes when the
// test ends.
func (c *Cluster) JetStream(t testing.TB, domain string) njs.JetStream {
	t.Helper()
	return c.JetStreamAs(t, domain, c.Inv.JetStreamAccounts()[0].Name)
}

// JetStreamAs is JetStream as the first user of account.
func (c *Cluster) JetStreamAs(t testing.TB, domain, account string) njs.JetStream {
	t.Helper()
	cl := c.Inv.ClusterByDomain(domain)
	if cl == nil {
		t.Fatalf("no cluster has domain %q", domain)
	}
	var urls []string
	for _, n := range cl.Active() {
		urls = append(urls, n.ClientURL())
	}
	user, pass := c.AccountUser(account)
	// A TLS handshake on a loaded machine can take longer than nats.go's
	// default 2 s connect timeout.
	opts := append([]nats.Option{nats.UserInfo(user, pass), nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond), nats.Timeout(15 * time.Second)}, c.ClientOptions()...)
	nc, err := nats.Connect(strings.Join(urls, ","), opts...)
	if err != nil {
		t.Fatalf("connect to domain %q as %s: %v", domain, user, err)
	}
	t.Cleanup(nc.Close)
	js, err := njs.NewWithDomain(nc, domain)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// Publish publishes n messages through js and fails the test unless each is
// acknowledged. subject is a stream's subject filter ("orders.>",
// "orders.*") or its prefix ("orders"): the messages go to seven subjects
// below it (orders.0 .. orders.6), each with a header, every third one with
// a repeated header too, so that digests and restores see more than bodies.
func Publish(t testing.TB, js njs.JetStream, subject string, n int) {
	t.Helper()
	prefix := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(subject, ">"), "*"), ".")
	for i := 1; i <= n; i++ {
		m := nats.NewMsg(fmt.Sprintf("%s.%d", prefix, i%7))
		m.Data = []byte(fmt.Sprintf("message %d", i))
		m.Header.Set("N", fmt.Sprint(i))
		if i%3 == 0 {
			m.Header.Add("X-Multi", "a")
			m.Header.Add("X-Multi", "b")
		}
		// Not the test's context: it ends before cleanups, which may publish.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := js.PublishMsg(ctx, m)
		cancel()
		if err != nil {
			t.Fatalf("publish %d of %d to %s: %v", i, n, m.Subject, err)
		}
	}
}
