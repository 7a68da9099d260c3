// Package provision turns an inventory into running nats-servers: it
// gathers facts from every host, plans what must change, applies the plan
// with rolling restarts behind health gates, and reports a recap. Its
// Session is also how runbooks and status reach hosts and NATS.
package provision

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/jetstream"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/remote"
)

// SessionOptions says how a Session reaches hosts and NATS.
type SessionOptions struct {
	AcceptNewHostKeys bool
	// Direct connects to NATS client URLs straight instead of through SSH.
	Direct bool
	// AgentSocket is the ssh-agent socket ($SSH_AUTH_SOCK), "" for none.
	AgentSocket string
	// Concurrency bounds parallel SSH dials; < 1 means all at once.
	Concurrency int
	// DialTimeout bounds one SSH dial; default 10s.
	DialTimeout time.Duration
	// NATSTimeout bounds each NATS request; default 3s.
	NATSTimeout time.Duration
	// PreferDC puts the nodes of that data center first when the NATS
	// connection picks a server: across a cut between DCs, the NATS view is
	// that side's.
	PreferDC string
	// HostKeyLog gets a line for every host key AcceptNewHostKeys adds to
	// known_hosts, and for every host that has no sftp-server (the
	// operator's stderr); nil for none.
	HostKeyLog io.Writer
	// CatchUp, if not nil, hears each replica's lag while a gate or a
	// runbook waits for it to catch up (0: caught up), in place of the
	// progress lines that say the same (the CLI draws bars on a terminal).
	CatchUp func(server, stream string, lag uint64)
}

// Session holds one SSH connection per host for a whole run, and a NATS
// connection tunnelled through them.
type Session struct {
	Inv     *inventory.Inventory
	Secrets *inventory.Secrets
	opts    SessionOptions

	mu       sync.Mutex
	logMu    sync.Mutex // serialises HostKeyLog lines
	clients  map[string]*remote.Client
	dialErrs map[string]error
	stores   map[string]*remote.HostKeyStore
	keys     *remote.KeyFiles // the SSH key files, parsed once for every dial of the run
	// monitorAt: nodes whose running server's monitoring endpoint is not
	// where the inventory puts it (see httpaddr.go).
	monitorAt map[string]string
	given     map[string]givenFacts // see GivenFacts
	// factsAsked is when FactsScripts gave out the scripts GivenFacts
	// hands back: the earliest a host's clock can have been read by them.
	factsAsked time.Time
	rendered   map[string]rendering // each node's files, rendered once (render_once.go)
	renders    int                  // how many renderings the session made, for tests
	factsBuilt int                  // how many facts scripts it built, for tests
	// shared: monitoring answers the first installs' waits share
	// (monitor_shared.go).
	shared map[string]*sharedAnswer
	// monitors: the monitoring endpoints' HTTP clients, their connections
	// kept alive (httpaddr.go).
	monitors map[monitorKey]*http.Client
	nats     *jetstream.Conn

	// nats.binary's content for the uploads (binary_content.go)
	binMu  sync.Mutex
	bin    []byte
	binSum string
	binErr error
}

// NewSession prepares a session; nothing is dialled until needed.
func NewSession(inv *inventory.Inventory, sec *inventory.Secrets, opts SessionOptions) *Session {
	return &Session{Inv: inv, Secrets: sec, opts: opts,
		clients: map[string]*remote.Client{}, dialErrs: map[string]error{}, stores: map[string]*remote.HostKeyStore{},
		keys: remote.NewKeyFiles()}
}

func (s *Session) config(n *inventory.Node) remote.Config {
	s.mu.Lock()
	store := s.stores[n.SSH.KnownHosts]
	if store == nil {
		store = remote.NewHostKeyStore(n.SSH.KnownHosts)
		s.stores[n.SSH.KnownHosts] = store
	}
	s.mu.Unlock()
	key := n.SSH.Key
	if _, err := os.Stat(key); err != nil && s.opts.AgentSocket != "" {
		key = "" // the agent holds the key
	}
	return remote.Config{
		Name: n.Name, Host: n.Host, Port: n.SSH.Port, User: n.SSH.User,
		KeyFile: key, Keys: s.keys, AgentSocket: s.opts.AgentSocket,
		KnownHosts: n.SSH.KnownHosts, HostKeys: store,
		AcceptNewHostKeys: s.opts.AcceptNewHostKeys, HostKeyAdded: s.hostKeyAdded,
		Sudo: n.SSH.Sudo, Transfer: n.SSH.Transfer, Log: s.logLine, DialTimeout: s.opts.DialTimeout,
	}
}

// logLine writes one whole line to the operator's stderr (HostKeyLog): the
// SSH layer's notes, such as a host without an sftp-server.
func (s *Session) logLine(line string) {
	if s.opts.HostKeyLog == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintln(s.opts.HostKeyLog, line)
}

// hostKeyAdded reports a key trusted on first use; parallel dials report
// one whole line each.
func (s *Session) hostKeyAdded(a remote.AddedHostKey) {
	if s.opts.HostKeyLog == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.opts.HostKeyLog, "%s\n", a)
}

// Connect dials every given node's host not yet connected, in parallel, and
// returns the failures by node name. A failure is remembered for the run:
// a host that is down is not dialled again and again.
func (s *Session) Connect(ctx context.Context, nodes []*inventory.Node) map[string]error {
	var cfgs []remote.Config
	s.mu.Lock()
	for _, n := range nodes {
		if s.clients[n.Name] == nil && s.dialErrs[n.Name] == nil {
			cfgs = append(cfgs, remote.Config{Name: n.Name})
		}
	}
	s.mu.Unlock()
	for i := range cfgs {
		cfgs[i] = s.config(s.Inv.Node(cfgs[i].Name))
	}
	var errs map[string]error
	if len(cfgs) > 0 {
		var clients map[string]*remote.Client
		clients, errs = remote.DialAll(ctx, cfgs, s.opts.Concurrency)
		s.mu.Lock()
		for k, c := range clients {
			s.clients[k] = c
		}
		for k, e := range errs {
			// A dial cut short by the caller (its context ended: a NATS
			// connection's probes of every host stop once one answers) says
			// nothing about the host: the next use dials again.
			if ctx.Err() == nil && !errors.Is(e, context.Canceled) {
				s.dialErrs[k] = e
			}
		}
		s.mu.Unlock()
	}
	out := map[string]error{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range nodes {
		if e := s.dialErrs[n.Name]; e != nil {
			out[n.Name] = e
		} else if e := errs[n.Name]; e != nil {
			out[n.Name] = e
		}
	}
	return out
}

// Client returns the SSH connection to node's host, dialling it if needed.
func (s *Session) Client(ctx context.Context, node string) (*remote.Client, error) {
	n := s.Inv.Node(node)
	if n == nil {
		return nil, &inventory.UnknownNodeError{Name: node, Inventory: s.Inv.File}
	}
	if errs := s.Connect(ctx, []*inventory.Node{n}); errs[node] != nil {
		return nil, errs[node]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[node], nil
}

// Forget drops a host's connection (and a remembered dial failure), so the
// next use dials again: after a host restarts, or to retry one that was down.
func (s *Session) Forget(node string) {
	s.mu.Lock()
	c := s.clients[node]
	delete(s.clients, node)
	delete(s.dialErrs, node)
	s.dropMonitors(node)
	s.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// dialNATS reaches a node's listener: through the SSH connection to the
// node's host (so only SSH needs to be open), or straight with Direct.
func (s *Session) dialNATS(ctx context.Context, network, addr string) (net.Conn, error) {
	if s.opts.Direct {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	n := s.nodeByAddr(addr)
	if n == nil {
		return nil, fmt.Errorf("dial %s: no inventory node listens there", addr)
	}
	c, err := s.Client(ctx, n.Name)
	if err != nil {
		return nil, fmt.Errorf("dial %s through ssh to %s: %w", addr, n.Name, err)
	}
	return c.DialContext(ctx, network, addr)
}

func (s *Session) nodeByAddr(addr string) *inventory.Node {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	p, _ := strconv.Atoi(port)
	for _, n := range s.Inv.Nodes {
		if n.Addr() == host && (n.Ports.Client == p || n.Ports.Cluster == p || n.Ports.Leafnode == p) {
			return n
		}
	}
	return nil
}

// NATS returns the session's JetStream connection, through any node that
// answers: the system account's first user, and the first user of every
// JetStream account, each on a connection of its own (Conn.Account picks
// the one a stream lives in).
func (s *Session) NATS(ctx context.Context) (*jetstream.Conn, error) {
	s.mu.Lock()
	if s.nats != nil {
		defer s.mu.Unlock()
		return s.nats, nil
	}
	s.mu.Unlock()
	sys := s.Inv.SystemAccount()
	opts := jetstream.Options{
		Dial:        s.dialNATS,
		Timeout:     s.opts.NATSTimeout,
		Name:        "dcctl",
		ServerNames: s.serverNames(),
		System:      jetstream.Credentials{User: sys.Users[0], Password: s.Secrets.Password(sys.Users[0])},
	}
	for _, a := range s.Inv.JetStreamAccounts() {
		opts.Accounts = append(opts.Accounts, jetstream.AccountUser{Account: a.Name,
			Credentials: jetstream.Credentials{User: a.Users[0], Password: s.Secrets.Password(a.Users[0]), Source: s.Secrets.PasswordSource(a.Users[0])}})
	}
	for _, n := range s.liveFirst() {
		opts.URLs = append(opts.URLs, n.ClientURL())
	}
	if s.Inv.TLS.Enabled {
		ca := s.Secrets.TLSCA()
		if ca == nil {
			return nil, fmt.Errorf("connect to NATS: TLS is on and the deployment's CA %s is missing: restore it from a backup (only `dcctl provision` creates one, for a deployment without TLS yet)", pki.TrustedCA(s.Inv))
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		opts.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	conn, err := jetstream.Connect(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nats != nil { // lost a race with another caller
		conn.Close()
		return s.nats, nil
	}
	s.nats = conn
	return conn, nil
}

// liveFirst orders nodes so that hosts already connected come first and
// hosts known to be unreachable last; within each, the preferred DC's first.
func (s *Session) liveFirst() []*inventory.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	rank := func(n *inventory.Node) int {
		switch {
		case n.Standby:
			return 3
		case s.clients[n.Name] != nil:
			return 0
		case s.dialErrs[n.Name] != nil:
			return 2
		}
		return 1
	}
	other := func(n *inventory.Node) bool { return s.opts.PreferDC != "" && n.DC != s.opts.PreferDC }
	nodes := append([]*inventory.Node(nil), s.Inv.Nodes...)
	sort.SliceStable(nodes, func(i, j int) bool {
		if ri, rj := rank(nodes[i]), rank(nodes[j]); ri != rj {
			return ri < rj
		}
		return !other(nodes[i]) && other(nodes[j])
	})
	return nodes
}

// Healthz asks node's monitoring endpoint for /healthz (path may carry a
// query) and returns the HTTP status.
func (s *Session) Healthz(ctx context.Context, node, path string) (int, error) {
	code, _, err := s.healthz(ctx, node, path)
	return code, err
}

// healthz is Healthz with the server's reason for an answer other than
// 200 (the "error" of its JSON, such as `JetStream can not lookup account
// "x": account missing`), "" when it gives none.
func (s *Session) healthz(ctx context.Context, node, path string) (code int, why string, err error) {
	n := s.Inv.Node(node)
	if n == nil {
		return 0, "", &inventory.UnknownNodeError{Name: node, Inventory: s.Inv.File}
	}
	base := s.monitorBase(n)
	client := s.monitorClient(n, base)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", node, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var body struct {
			Error string `json:"error"`
		}
		if b, err := io.ReadAll(io.LimitReader(resp.Body, 4096)); err == nil && json.Unmarshal(b, &body) == nil {
			why = body.Error
		}
	}
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, why, nil
}

// Monitor reads JetStream state from the monitoring endpoints of each
// domain's nodes: no NATS credentials involved.
func (s *Session) Monitor() jetstream.Monitor {
	return jetstream.Monitor{
		Get: s.monitor,
		Servers: func(domain string) []string {
			var out []string
			for _, n := range s.Inv.Nodes {
				if s.Inv.Domain(n) == domain {
					out = append(out, n.Name)
				}
			}
			return out
		},
		Names: s.serverNames(),
	}
}

// serverNames are every node's server name, for peers a server reports by
// peer id only.
func (s *Session) serverNames() []string {
	out := make([]string, len(s.Inv.Nodes))
	for i, n := range s.Inv.Nodes {
		out[i] = n.Name
	}
	return out
}

// ForgetNATS closes the session's NATS connection, so that the next NATS
// call logs in with the passwords the secrets hold now: a password rotation
// that changed the one dcctl logged in with has the servers cut that
// connection off, and its reconnects would offer the old password.
func (s *Session) ForgetNATS() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nats != nil {
		s.nats.Close()
		s.nats = nil
	}
}

// Close ends the NATS connection and every SSH connection.
func (s *Session) Close() error {
	s.ForgetNATS()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropMonitors("")
	err := remote.CloseAll(s.clients)
	s.clients = map[string]*remote.Client{}
	return err
}

// ReportCatchUp hands server's lag on stream to SessionOptions.CatchUp and
// reports whether there was one to take it; without, the caller writes
// its progress line as before.
func (s *Session) ReportCatchUp(server, stream string, lag uint64) bool {
	if s.opts.CatchUp == nil {
		return false
	}
	s.opts.CatchUp(server, stream, lag)
	return true
}
