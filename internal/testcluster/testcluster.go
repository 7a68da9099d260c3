// Package testcluster starts real nats-server clusters in-process from the
// configs dcctl renders, for tests that need JetStream without hosts: every
// node of an inventory runs on 127.0.0.1 with its own ports and store
// (and is a host of its own, 127.0.x.y, to dcctl).
package testcluster

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/templates"
)

// Spec describes a topology to test: clusters with their nodes, and the
// application and system accounts.
type Spec struct {
	AppAccount, AppUser string
	SysAccount, SysUser string
	// MoreAccounts are JetStream accounts besides AppAccount.
	MoreAccounts []AccountSpec
	Clusters     []ClusterSpec
}

// AccountSpec is a JetStream account of a Spec with its one user.
type AccountSpec struct {
	Name, User string
}

// ClusterSpec is one cluster of a Spec.
type ClusterSpec struct {
	Name, Domain, LeafOf string
	Nodes                []NodeSpec
}

// NodeSpec is one node of a ClusterSpec.
type NodeSpec struct {
	Name, DC string
	Standby  bool
}

// Seed is the example topology of inventory/example.toml: a 4-node backbone
// and two 3-node leaf clusters.
func Seed() Spec {
	return Spec{
		AppAccount: "ACC1", AppUser: "acc1", SysAccount: "SYS", SysUser: "admin",
		Clusters: []ClusterSpec{
			{Name: "BB", Domain: "hub", Nodes: []NodeSpec{{"bb_emea_1", "emea", false}, {"bb_emea_2", "emea", false}, {"bb_us_1", "us", false}, {"bb_us_2", "us", false}}},
			{Name: "US", Domain: "us", LeafOf: "BB", Nodes: []NodeSpec{{"us_1", "us", false}, {"us_2", "us", false}, {"us_3", "us", false}}},
			{Name: "EMEA", Domain: "emea", LeafOf: "BB", Nodes: []NodeSpec{{"emea_1", "emea", false}, {"emea_2", "emea", false}, {"emea_3", "emea", false}}},
		},
	}
}

// Other is a topology sharing no name with Seed: a 5-node backbone,
// other server, cluster, account, user and domain names.
func Other() Spec {
	return Spec{
		AppAccount: "ORDERS", AppUser: "svc-orders", SysAccount: "OPS", SysUser: "operator",
		Clusters: []ClusterSpec{
			{Name: "CORE", Domain: "central", Nodes: []NodeSpec{{"core-a1", "fra", false}, {"core-a2", "fra", false}, {"core-a3", "fra", false}, {"core-b1", "nyc", false}, {"core-b2", "nyc", false}}},
			{Name: "EDGE-NYC", Domain: "nyc", LeafOf: "CORE", Nodes: []NodeSpec{{"edge-n1", "nyc", false}, {"edge-n2", "nyc", false}, {"edge-n3", "nyc", false}}},
			{Name: "EDGE-FRA", Domain: "fra", LeafOf: "CORE", Nodes: []NodeSpec{{"edge-f1", "fra", false}, {"edge-f2", "fra", false}, {"edge-f3", "fra", false}}},
		},
	}
}

// WriteInventory writes spec as an inventory in a temp dir, every node on
// 127.0.0.1 with free ports, and returns its path.
func WriteInventory(t testing.TB, spec Spec) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	// The local files the inventory names exist, as validate wants them to:
	// nothing here connects or installs, so empty ones do, but for the key,
	// which validate parses.
	for _, f := range []string{"nats-server", "known_hosts"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	WriteSSHKey(t, filepath.Join(dir, "id_ed25519"))
	fmt.Fprintf(&b, "[defaults]\nssh_key = \"id_ed25519\"\nknown_hosts = \"known_hosts\"\n\n")
	fmt.Fprintf(&b, "[nats]\nbinary = \"nats-server\"\nsync_interval = \"always\"\nlame_duck_duration = \"30s\"\nlame_duck_grace_period = \"2s\"\n\n")
	fmt.Fprintf(&b, "[accounts.%q]\njetstream = true\nusers = [%q]\n\n", spec.AppAccount, spec.AppUser)
	fmt.Fprintf(&b, "[accounts.%q]\nsystem = true\nusers = [%q]\n\n", spec.SysAccount, spec.SysUser)
	for _, a := range spec.MoreAccounts {
		fmt.Fprintf(&b, "[accounts.%q]\njetstream = true\nusers = [%q]\n\n", a.Name, a.User)
	}
	for _, cl := range spec.Clusters {
		fmt.Fprintf(&b, "[clusters.%q]\ndomain = %q\n", cl.Name, cl.Domain)
		if cl.LeafOf != "" {
			fmt.Fprintf(&b, "leaf_of = %q\n", cl.LeafOf)
		}
		b.WriteString("\n")
	}
	// Every port is picked in one go: ports picked node by node could repeat,
	// since each batch's listeners are closed before the next is opened.
	total := 0
	for _, cl := range spec.Clusters {
		total += len(cl.Nodes)
	}
	all := freePorts(t, 4*total)
	i := 0
	for _, cl := range spec.Clusters {
		for _, n := range cl.Nodes {
			ports := all[:4]
			all = all[4:]
			i++
			// One host runs one node (validate refuses two on one host):
			// each node is a host of its own among the loopback addresses,
			// while every server listens on 127.0.0.1.
			fmt.Fprintf(&b, "[nodes.%q]\ncluster = %q\ndc = %q\nhost = \"127.0.%d.%d\"\nlisten = \"127.0.0.1\"\nclient_port = %d\ncluster_port = %d\nleafnode_port = %d\nhttp_port = %d\n",
				n.Name, cl.Name, n.DC, i/250, 1+i%250, ports[0], ports[1], ports[2], ports[3])
			if n.Standby {
				b.WriteString("standby = true\n")
			}
			b.WriteString("\n")
		}
	}
	path := filepath.Join(dir, "inventory.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// freePorts picks n ports that are free now, below the kernel's ephemeral
// range. A port from that range (what listening on :0 gives) is free only
// while nobody dials: once a node stops, any outgoing connection on the
// machine (a leaf node redialling its hub, another test's SSH) may take it
// as its source port, and the node cannot listen on it again when it
// restarts. CI saw restarted nodes never get ready that way under load.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	lo, hi := 20000, ephemeralLow()
	if hi-lo < 4*n {
		lo = 1024
	}
	var out []int
	var ls []net.Listener
	seen := map[int]bool{}
	for tries := 0; len(out) < n; tries++ {
		if tries > 100*n {
			t.Fatalf("no %d free ports in %d..%d", n, lo, hi-1)
		}
		p := lo + rand.IntN(hi-lo)
		if seen[p] {
			continue
		}
		seen[p] = true
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		out = append(out, p)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 32768
	}
	v, err := strconv.Atoi(f[0])
	if err != nil || v <= 1024 {
		return 32768
	}
	return v
}

// Cluster is a running in-process deployment.
type Cluster struct {
	t       testing.TB
	Inv     *inventory.Inventory
	Secrets *inventory.Secrets
	dir     string
	mu      sync.Mutex
	servers map[string]*server.Server
}

// Start loads the inventory at path, renders every non-standby node's files
// and starts its server from them; it returns once every server is ready for
// connections and every domain has a meta leader.
func Start(t testing.TB, path string) *Cluster {
	t.Helper()
	inv, err := inventory.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// A test deployment is a first install: its secrets file is created
	// here, as provision would.
	sec, err := inventory.PrepareSecrets(inv, func(string) string { return "" })
	if err == nil {
		err = sec.Save()
	}
	if err != nil {
		t.Fatal(err)
	}
	// and so are its CA and certificates
	mat, err := pki.Prepare(inv, time.Now())
	if err == nil {
		err = mat.Save()
	}
	if err != nil {
		t.Fatal(err)
	}
	mat.Apply(sec)
	c := &Cluster{t: t, Inv: inv, Secrets: sec, dir: t.TempDir(), servers: map[string]*server.Server{}}
	t.Cleanup(c.Shutdown)
	for _, n := range inv.Nodes {
		if !n.Standby {
			c.Start(n.Name)
		}
	}
	// A deadline, not a wait: on a quiet machine the leaders are there in
	// seconds, on one loaded by other test runs an election of servers
	// started together took over a minute.
	for _, cl := range inv.Clusters {
		c.WaitMetaLeader(cl.Domain, testwait.Converge)
		c.waitMetaWhole(cl.Domain)
	}
	return c
}

// Start (re)starts one node from its rendered config, keeping its store.
func (c *Cluster) Start(node string) *server.Server {
	c.t.Helper()
	if _, err := c.Install(node); err != nil {
		c.t.Fatal(err)
	}
	opts, err := c.options(node)
	if err != nil {
		c.t.Fatalf("%s: rendered config rejected: %v", node, err)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		c.t.Fatalf("%s: %v", node, err)
	}
	c.awaitStartup(node, s)
	c.mu.Lock()
	c.servers[node] = s
	c.mu.Unlock()
	return s
}

// awaitStartup waits for s, being started, to listen. The wait is for
// Start to return, not a fixed time: on a machine loaded by other test runs
// (load 28 on 2 cores) a server's startup (JetStream's stores, each with
// fsyncs) took over a minute, while a server that fails to start (a port in
// use) returns from Start at once and is then reported promptly as not
// listening. A Start that never returns is reported shortly before the
// test's own deadline, with where it stands.
func (c *Cluster) awaitStartup(node string, s *server.Server) {
	c.t.Helper()
	started := make(chan struct{})
	go func() {
		defer close(started)
		s.Start()
	}()
	var limit <-chan time.Time
	if d, ok := c.t.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := d.Deadline(); ok {
			timer := time.NewTimer(time.Until(end) - 30*time.Second)
			defer timer.Stop()
			limit = timer.C
		}
	}
	select {
	case <-started:
	case <-limit:
		s.Shutdown()
		c.t.Fatalf("%s: its startup did not complete before the test's deadline", node)
	}
	// Start has opened the client listener or failed to; the route
	// listener follows in a goroutine that only waits for it.
	if s.Addr() == nil || !s.ReadyForConnections(30*time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		c.t.Fatalf("%s: started but not listening; its ports held by others: %s", node, c.heldPorts(node))
	}
}

// heldPorts says which of node's listening ports something else holds,
// for the failure of a node that did not listen.
func (c *Cluster) heldPorts(node string) string {
	n := c.Inv.Node(node)
	var held []string
	for _, p := range []struct {
		what string
		port int
	}{{"client", n.Ports.Client}, {"cluster", n.Ports.Cluster}, {"leafnode", n.Ports.Leafnode}, {"http", n.Ports.HTTP}} {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)))
		if err != nil {
			held = append(held, fmt.Sprintf("%s port %d (%v)", p.what, p.port, err))
			continue
		}
		l.Close()
	}
	if len(held) == 0 {
		return "none (its startup failed otherwise)"
	}
	return strings.Join(held, ", ")
}

// rendered is node's files as they are to be in NodeDir, by name.
func (c *Cluster) rendered(node string) (map[string][]byte, error) {
	files, err := templates.Render(c.Inv, c.Secrets, node)
	if err != nil {
		return nil, err
	}
	dir := c.NodeDir(node)
	out := map[string][]byte{}
	for _, f := range files {
		// Files name each other by their paths on the host (the TLS
		// files): here they all live in dir.
		out[filepath.Base(f.Path)] = []byte(strings.ReplaceAll(string(f.Content), `"`+c.Inv.NATS.ConfigDir+"/", `"`+dir+"/"))
	}
	return out, nil
}

// Install writes node's files as the inventory and secrets render them
// now into NodeDir, as provision installs them on a host, and returns the
// names of those that changed. A running server reads them at its next
// Reload or Start.
func (c *Cluster) Install(node string) ([]string, error) {
	files, err := c.rendered(node)
	if err != nil {
		return nil, err
	}
	dir := c.NodeDir(node)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var changed []string
	for name, content := range files {
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err == nil && string(old) == string(content) {
			continue
		}
		if err := os.WriteFile(path, content, 0o600); err != nil {
			return nil, err
		}
		changed = append(changed, name)
	}
	sort.Strings(changed)
	return changed, nil
}

// Drift names node's files in NodeDir that differ from what Install would
// write.
func (c *Cluster) Drift(node string) ([]string, error) {
	files, err := c.rendered(node)
	if err != nil {
		return nil, err
	}
	var out []string
	for name, content := range files {
		if old, err := os.ReadFile(filepath.Join(c.NodeDir(node), name)); err != nil || string(old) != string(content) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// options reads node's config as it is in its directory.
func (c *Cluster) options(node string) (*server.Options, error) {
	dir := c.NodeDir(node)
	opts, err := server.ProcessConfigFile(filepath.Join(dir, templates.ConfigName))
	if err != nil {
		return nil, err
	}
	// One host's store_dir is shared by every in-process node: give each its own.
	opts.StoreDir = filepath.Join(dir, "store")
	opts.NoSigs = true
	opts.NoLog = true
	return opts, nil
}

// NodeDir is where node's rendered files live (config_dir on a host): its
// config names its TLS files there.
func (c *Cluster) NodeDir(node string) string { return filepath.Join(c.dir, node) }

// Reload has a running node re-read its files as they are in NodeDir, as
// a SIGHUP would.
func (c *Cluster) Reload(node string) error {
	s := c.Server(node)
	if s == nil {
		return fmt.Errorf("reload %s: not running", node)
	}
	opts, err := c.options(node)
	if err != nil {
		return fmt.Errorf("reload %s: %w", node, err)
	}
	return s.ReloadOptions(opts)
}

// Stop shuts one node down, as a crash would (no lame duck).
func (c *Cluster) Stop(node string) {
	c.mu.Lock()
	s := c.servers[node]
	delete(c.servers, node)
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Server returns the running server of node, or nil.
func (c *Cluster) Server(node string) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servers[node]
}

// Running lists the running nodes, sorted.
func (c *Cluster) Running() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for n := range c.servers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Shutdown stops every node.
func (c *Cluster) Shutdown() {
	for _, n := range c.Running() {
		c.Stop(n)
	}
}

// ClientURLs lists the client URLs of every node in the inventory (running
// or not), as dcctl would use them.
func (c *Cluster) ClientURLs() []string {
	var out []string
	for _, n := range c.Inv.Nodes {
		out = append(out, n.ClientURL())
	}
	return out
}

// CAFile is the CA certificate the servers' certificates chain to, for
// clients that verify them.
func (c *Cluster) CAFile() string { return pki.TrustedCA(c.Inv) }

// TLSConfig verifies the servers against the deployment's CA; nil when
// the inventory has TLS off.
func (c *Cluster) TLSConfig() *tls.Config {
	ca := c.Secrets.TLSCA()
	if ca == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// ClientOptions are the nats.go options a client of the deployment needs
// besides its credentials: the CA to verify the servers with.
func (c *Cluster) ClientOptions() []nats.Option {
	if cfg := c.TLSConfig(); cfg != nil {
		return []nats.Option{nats.Secure(cfg)}
	}
	return nil
}

// AppUser returns the credentials of the first JetStream account's user.
func (c *Cluster) AppUser() (user, password string) {
	return c.AccountUser(c.Inv.JetStreamAccounts()[0].Name)
}

// AccountUser returns the credentials of account's first user.
func (c *Cluster) AccountUser(account string) (user, password string) {
	a := c.Inv.Account(account)
	if a == nil || len(a.Users) == 0 {
		c.t.Fatalf("no account %q with a user in the inventory", account)
	}
	u := a.Users[0]
	return u, c.Secrets.Password(u)
}

// SysUser returns the system account's user and password.
func (c *Cluster) SysUser() (user, password string) {
	u := c.Inv.SystemAccount().Users[0]
	return u, c.Secrets.Password(u)
}

// MetaLeader asks the running servers of a domain which of them leads its
// meta group; "" when none does.
func (c *Cluster) MetaLeader(domain string) string {
	cl := c.Inv.ClusterByDomain(domain)
	for _, n := range cl.Nodes {
		s := c.Server(n.Name)
		if s == nil || !s.JetStreamEnabled() {
			continue
		}
		if s.JetStreamIsLeader() {
			return n.Name
		}
	}
	return ""
}

// waitMetaWhole waits until domain's meta group counts every active node
// of its cluster as a current peer. A group whose leader was elected before
// the last servers started adds them a moment later; until then it is
// smaller (CI, at load 30: a 5-node backbone's survivors counted a group of
// 3 or 4, and a 4-node one kept its leader with 2 of 4 stopped), and a test
// that stops servers meanwhile sees another cluster than the one it built.
func (c *Cluster) waitMetaWhole(domain string) {
	c.t.Helper()
	want := len(c.Inv.ClusterByDomain(domain).Active())
	testwait.Eventually(c.t, testwait.Converge, "meta group of domain "+domain+" whole", func() error {
		leader := c.MetaLeader(domain)
		s := c.Server(leader)
		if s == nil {
			return fmt.Errorf("no meta leader (%s)", c.metaViews(domain))
		}
		jsz, err := s.Jsz(nil)
		if err != nil || jsz.Meta == nil {
			return fmt.Errorf("%s: meta group: %v", leader, err)
		}
		current := 1
		for _, p := range jsz.Meta.Replicas {
			if p.Current && !p.Offline {
				current++
			}
		}
		if jsz.Meta.Size != want || current != want {
			return fmt.Errorf("leader %s: size %d, %d current peers, want %d", leader, jsz.Meta.Size, current, want)
		}
		return nil
	})
}

// metaViews says how each running server of domain sees its meta group
// (the leader it knows, the group's size), for a wait that failed.
func (c *Cluster) metaViews(domain string) string {
	var views []string
	for _, n := range c.Inv.ClusterByDomain(domain).Nodes {
		s := c.Server(n.Name)
		if s == nil {
			continue
		}
		jsz, err := s.Jsz(nil)
		switch {
		case err != nil:
			views = append(views, fmt.Sprintf("%s: %v", n.Name, err))
		case jsz.Meta == nil:
			views = append(views, n.Name+": no meta group")
		default:
			views = append(views, fmt.Sprintf("%s: leader %q, size %d, %d peers", n.Name, jsz.Meta.Leader, jsz.Meta.Size, len(jsz.Meta.Replicas)))
		}
	}
	return strings.Join(views, "; ")
}

// WaitMetaLeader polls until the domain has a meta leader and returns it.
func (c *Cluster) WaitMetaLeader(domain string, timeout time.Duration) string {
	c.t.Helper()
	var leader string
	testwait.Eventually(c.t, timeout, "meta leader of domain "+domain, func() error {
		if leader = c.MetaLeader(domain); leader == "" {
			return fmt.Errorf("none of its running servers leads the meta group (%s)", c.metaViews(domain))
		}
		return nil
	})
	return leader
}
