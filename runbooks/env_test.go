package runbooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/provision"
)

// processHosts is the Hosts boundary over in-process servers: a node's
// "unit" is active while its server runs, start and restart run it from its
// rendered config again (keeping its store), stop and kill shut it down. It
// gives the runbooks real answers about real servers, only without systemd.
type processHosts struct {
	c *testcluster.Cluster

	mu    sync.Mutex
	calls []string // every UnitCtl and Provision, in order, to assert on
}

func (h *processHosts) UnitState(_ context.Context, node string) (string, error) {
	if h.c.Inv.Node(node) == nil {
		return "", fmt.Errorf("no node %s", node)
	}
	if h.c.Server(node) != nil {
		return "active", nil
	}
	return "inactive", nil
}

func (h *processHosts) UnitCtl(_ context.Context, node, action string) error {
	h.record(action + " " + node)
	switch action {
	case "start":
		if h.c.Server(node) == nil {
			h.c.Start(node)
		}
	case "stop", "kill":
		h.c.Stop(node)
	case "restart":
		h.c.Stop(node)
		h.c.Start(node)
	default:
		return fmt.Errorf("unit action %q", action)
	}
	return nil
}

// Drift is always empty: testcluster renders every node's config from the
// inventory each time it starts one.
func (h *processHosts) Drift(context.Context, string) ([]string, error) { return nil, nil }

func (h *processHosts) Provision(_ context.Context, node string) error {
	h.record("provision " + node)
	return nil
}

func (h *processHosts) record(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, s)
}

func (h *processHosts) Calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...)
}

// lab is an embedded deployment with a session and an env for runbooks.
type lab struct {
	t     *testing.T
	c     *testcluster.Cluster
	s     *provision.Session
	hosts *processHosts
	conns map[string]*nats.Conn // per domain, application account: the test's own publishing and checks
	out   *bytes.Buffer
}

func newLab(t *testing.T, spec testcluster.Spec) *lab {
	t.Helper()
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	s := provision.NewSession(c.Inv, c.Secrets, provision.SessionOptions{Direct: true, NATSTimeout: 2 * time.Second})
	t.Cleanup(func() { s.Close() })
	l := &lab{t: t, c: c, s: s, hosts: &processHosts{c: c}, conns: map[string]*nats.Conn{}, out: &bytes.Buffer{}}
	// One connection per domain, to that domain's own servers: API requests
	// then need no leafnode hop, whose interest propagates asynchronously.
	user, pass := c.AppUser()
	for _, cl := range c.Inv.Clusters {
		var urls []string
		for _, n := range cl.Active() {
			urls = append(urls, n.ClientURL())
		}
		nc, err := nats.Connect(strings.Join(urls, ","), nats.UserInfo(user, pass), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		l.conns[cl.Domain] = nc
	}
	return l
}

func (l *lab) env() *Env {
	return &Env{Inv: l.c.Inv, Session: l.s, Hosts: l.hosts, Out: l.out, Timeout: 60 * time.Second, Version: "test"}
}

func (l *lab) run(rb Runbook, mod ...func(*Env)) error {
	l.t.Helper()
	e := l.env()
	for _, m := range mod {
		m(e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := Run(ctx, e, rb)
	l.t.Logf("%s %s: %v\n%s", rb.Name(), rb.Target(), err, l.out.String())
	l.out.Reset()
	return err
}

func (l *lab) js(domain string) njs.JetStream {
	l.t.Helper()
	js, err := njs.NewWithDomain(l.conns[domain], domain)
	if err != nil {
		l.t.Fatal(err)
	}
	return js
}

// stream creates a stream and publishes n messages to it.
func (l *lab) stream(domain string, cfg njs.StreamConfig, n int) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js := l.js(domain)
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		l.t.Fatalf("create stream %s in %s: %v", cfg.Name, domain, err)
	}
	l.publish(domain, cfg.Subjects[0], n)
}

func (l *lab) publish(domain, subject string, n int) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js := l.js(domain)
	subj := strings.TrimSuffix(strings.TrimSuffix(subject, ">"), "*")
	for i := 0; i < n; i++ {
		msg := &nats.Msg{Subject: fmt.Sprintf("%s%d", subj, i%7), Data: []byte(fmt.Sprintf("message %d", i)), Header: nats.Header{"N": []string{fmt.Sprint(i)}}}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			l.t.Fatalf("publish %d to %s: %v", i, msg.Subject, err)
		}
	}
}

// info asks the stream's leader for its state, straight through nats.go.
func (l *lab) info(domain, stream string) (*njs.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := l.js(domain).Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	return s.Info(ctx)
}

// eventually polls check until it passes or the deadline ends the test.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond) // poll interval, not synchronisation
	}
}

func wantRefused(t *testing.T, err error, contains string) {
	t.Helper()
	var r *RefusedError
	if !errors.As(err, &r) {
		t.Fatalf("want a refusal, got %v", err)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Fatalf("refusal %q does not say %q", err, contains)
	}
}
