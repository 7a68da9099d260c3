package runbooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
)

// processHosts is the Hosts boundary over in-process servers: a node's
// "unit" is active while its server runs, start and restart run it from its
// rendered config again (keeping its store), stop and kill shut it down. It
// gives the runbooks real answers about real servers, only without systemd.
type processHosts struct {
	c *testcluster.Cluster

	mu          sync.Mutex
	calls       []string        // every UnitCtl and Provision, in order, to assert on
	retired     map[string]bool // nodes Retire marked, until a start
	unreachable map[string]bool // nodes whose host SSH does not reach
}

// cutOff makes node's host unreachable over SSH (or reachable again), as
// SystemdHosts reports a host it cannot dial.
func (h *processHosts) cutOff(node string, cut bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.unreachable == nil {
		h.unreachable = map[string]bool{}
	}
	h.unreachable[node] = cut
}

func (h *processHosts) reachable(node string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.unreachable[node]
}

func (h *processHosts) UnitState(_ context.Context, node string) (string, error) {
	if h.c.Inv.Node(node) == nil {
		return "", fmt.Errorf("no node %s", node)
	}
	if !h.reachable(node) {
		return UnitUnreachable, nil
	}
	if h.c.Server(node) != nil {
		return "active", nil
	}
	return "inactive", nil
}

func (h *processHosts) UnitCtl(_ context.Context, node, action string) error {
	h.record(action + " " + node)
	if action == "start" || action == "restart" {
		h.mu.Lock()
		delete(h.retired, node) // as the unit's start removes the marker
		h.mu.Unlock()
	}
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

// Retire stops node's server, as the unit's stop does.
func (h *processHosts) Retire(_ context.Context, node string) error {
	if !h.reachable(node) {
		return fmt.Errorf("retire %s: its host cannot be reached", node)
	}
	h.record("retire " + node)
	h.c.Stop(node)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.retired == nil {
		h.retired = map[string]bool{}
	}
	h.retired[node] = true
	return nil
}

// Retired: Retire marked the node and it does not run.
func (h *processHosts) Retired(_ context.Context, node string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.unreachable[node] && h.retired[node] && h.c.Server(node) == nil, nil
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
	t       *testing.T
	c       *testcluster.Cluster
	s       *provision.Session
	hosts   *processHosts
	clients map[string]njs.JetStream // per domain: the test's own publishing and checks
	out     *bytes.Buffer
}

// testNATSTimeout bounds each NATS request of the code under test. Short,
// so that the checks that must refuse (their settle window is two request
// timeouts and 5 s) do so soon; the runbooks work with the default 3 s and
// longer too (TestSettleOutlastsARequestThatTimesOut runs with 5 s).
const testNATSTimeout = 2 * time.Second

func newLab(t *testing.T, spec testcluster.Spec) *lab {
	t.Helper()
	return newLabTimeout(t, spec, testNATSTimeout)
}

// newLabTimeout is newLab whose session's NATS requests time out after d.
func newLabTimeout(t *testing.T, spec testcluster.Spec, d time.Duration) *lab {
	t.Helper()
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	s := provision.NewSession(c.Inv, c.Secrets, provision.SessionOptions{Direct: true, NATSTimeout: d})
	t.Cleanup(func() { s.Close() })
	l := &lab{t: t, c: c, s: s, hosts: &processHosts{c: c}, clients: map[string]njs.JetStream{}, out: &bytes.Buffer{}}
	for _, cl := range c.Inv.Clusters {
		l.clients[cl.Domain] = c.JetStream(t, cl.Domain)
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
	js, ok := l.clients[domain]
	if !ok {
		l.t.Fatalf("no domain %q in this deployment", domain)
	}
	return js
}

// stream creates a stream and publishes n messages to it.
func (l *lab) stream(domain string, cfg njs.StreamConfig, n int) {
	l.t.Helper()
	testcluster.CreateStream(l.t, l.js(domain), cfg, testwait.Converge)
	l.publish(domain, cfg.Subjects[0], n)
}

func (l *lab) publish(domain, subject string, n int) {
	l.t.Helper()
	testcluster.Publish(l.t, l.js(domain), subject, n)
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

// inventoryEnv is an env on spec()'s inventory with no server behind it:
// for what a runbook decides before it asks one.
func inventoryEnv(t *testing.T) *Env {
	t.Helper()
	inv, err := inventory.Load(testcluster.WriteInventory(t, spec()))
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Inv: inv, Out: io.Discard}
}

// settledChecks settles rb on inventoryEnv (Settle reads the inventory and
// local files only) and returns the names of the pre-checks it then builds.
func settledChecks(t *testing.T, rb Runbook) ([]string, error) {
	t.Helper()
	e := inventoryEnv(t)
	j, err := OpenJournal(t.TempDir(), rb.Name(), func(s string) string { return s })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	e.Journal = j
	if err := rb.Settle(e); err != nil {
		return nil, err
	}
	var names []string
	for _, c := range rb.PreChecks(e) {
		names = append(names, c.Name)
	}
	return names, nil
}

// settledPostChecks is settledChecks for the post-checks: their names as a
// run would log them before its pre-checks found anything.
func settledPostChecks(t *testing.T, rb Runbook) []string {
	t.Helper()
	if _, err := settledChecks(t, rb); err != nil {
		t.Fatal(err)
	}
	e := inventoryEnv(t)
	if err := rb.Settle(e); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range rb.PostChecks(e) {
		names = append(names, c.Name)
	}
	return names
}

// wantChecks fails the test unless every wanted check (pre- or post-) is among names, and
// no name holds a placeholder instead of a subject.
func wantChecks(t *testing.T, names []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("no check %s in %v", w, names)
		}
	}
	for _, n := range names {
		for _, placeholder := range []string{"(domain)", "(target)", "(cluster)", "(node)"} {
			if strings.Contains(n, placeholder) {
				t.Errorf("check %s names no subject", n)
			}
		}
	}
}
