// Package status reports the health of a whole deployment in one pass: per
// JetStream domain the servers, the meta group, the streams and the leafnode
// links as NATS reports them, the systemd unit of every host over SSH, and
// the warnings an on-call engineer must act on. It renders the report as
// natscli-like tables or as JSON (docs/status.md).
//
// Everything is asked in parallel and every request has a deadline, so a
// deployment with hosts down is reported within a few seconds: what did not
// answer is shown as offline or unreachable, never waited for.
package status

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/jetstream"
	"github.com/dcctl/dcctl/provision"
	"github.com/dcctl/dcctl/remote"
)

// Options select what Collect asks.
type Options struct {
	// Domain limits the report to one JetStream domain; "" reports all.
	Domain string
	// Units asks systemd on every host (over SSH) for the unit state.
	Units bool
	// Routes asks one server per cluster for its /routez (through SSH when
	// the monitoring port is on 127.0.0.1).
	Routes bool
}

// Report is the state of the deployment at one moment.
type Report struct {
	Time time.Time `json:"time"`
	// Healthy is false when any warning is of level "degraded".
	Healthy  bool      `json:"healthy"`
	Domains  []*Domain `json:"domains"`
	Warnings []Warning `json:"warnings"`
	// NATSError is set when no NATS server could be reached at all.
	NATSError string `json:"nats_error,omitempty"`
	// NATSVia is the server dcctl's NATS connection is on, and NATSViaDC
	// its data center: the side of a cut between DCs the NATS view is from.
	NATSVia   string `json:"nats_via,omitempty"`
	NATSViaDC string `json:"nats_via_dc,omitempty"`
	// DCs say per data center what this machine reached (SSH, NATS, the
	// servers' monitoring ports).
	DCs []DC `json:"dcs"`
	// RefusedAccounts are the JetStream accounts whose user the servers
	// refused: their streams are missing from every domain's list (the
	// other accounts' are there), and one degraded warning names each.
	RefusedAccounts []RefusedAccount `json:"refused_accounts,omitempty"`
	Seconds         float64          `json:"seconds"` // how long collecting took
}

// RefusedAccount is a JetStream account whose user the servers refused:
// PasswordFrom is where dcctl's password for User comes from (never the
// password).
type RefusedAccount struct {
	Account      string `json:"account"`
	User         string `json:"user"`
	PasswordFrom string `json:"password_from,omitempty"`
	Error        string `json:"error"`
}

// Warning levels: a degraded warning makes the report unhealthy (exit 1);
// a notice is a standing risk of the topology.
const (
	LevelDegraded = "degraded"
	LevelNotice   = "notice"
)

// Warning is one thing the operator should know or act on.
type Warning struct {
	Level   string `json:"level"`
	Domain  string `json:"domain,omitempty"`
	Message string `json:"message"`
}

// Domain is one JetStream domain: one cluster of the inventory.
type Domain struct {
	Name    string `json:"name"`
	Cluster string `json:"cluster"`
	LeafOf  string `json:"leaf_of,omitempty"` // the hub cluster of a leaf cluster
	// MetaLeader is the server name of the meta leader, "" when there is none.
	MetaLeader  string `json:"meta_leader"`
	ClusterSize int    `json:"cluster_size"`
	Quorum      int    `json:"quorum"`
	// Responded counts the servers of the domain that answered.
	Responded int        `json:"responded"`
	Servers   []*Server  `json:"servers"`
	Meta      []MetaPeer `json:"meta_peers"`
	MetaError string     `json:"meta_error,omitempty"`
	Streams   []*Stream  `json:"streams"`
	// MissingStreams are streams the meta leader knows whose leader did
	// not answer in time.
	MissingStreams []string `json:"missing_streams,omitempty"`
	// Leaderless places the replicas of the streams without a leader
	// (listed without one, or in MissingStreams), with those on servers that
	// do not answer.
	Leaderless   []LeaderlessStream `json:"leaderless_streams,omitempty"`
	StreamsError string             `json:"streams_error,omitempty"`
	Leafnodes    []LeafLink         `json:"leafnodes"`
	// LeafLinksAccepted counts, for a cluster that leaf clusters connect
	// to, the leafnode connections each of its answering servers accepted
	// (every leaf cluster and account). nats-server never moves a link once
	// it is made, so after restarts they gather on the servers that stayed
	// up: information, not a fault (docs/status.md).
	LeafLinksAccepted map[string]int `json:"leaf_links_accepted,omitempty"`
	// leafHome is where the leaf links belong, when every leaf node's DC
	// has hub servers (nil otherwise): leafSpreadNote judges the spread
	// per DC by it.
	leafHome *leafHome
	// MetaSource is "monitoring" when no meta leader answered over NATS and
	// the meta group (and streams) come from the servers' monitoring ports.
	MetaSource string `json:"meta_source,omitempty"`
	// Views are the meta group as the servers of each DC see it, asked when
	// the NATS view is incomplete (servers silent, no meta leader).
	Views []SideView `json:"views,omitempty"`
	// Routes is what one server of the cluster says of its routes: server
	// names routed from two servers, and names the inventory does not
	// list; nil when no server answered.
	Routes *Routes `json:"routes,omitempty"`
}

// Server is one inventory node of the domain, whether it answered or not.
type Server struct {
	Name    string `json:"name"`
	Host    string `json:"host"`
	DC      string `json:"dc"`
	Standby bool   `json:"standby,omitempty"`
	// Online is true when the server answered over NATS.
	Online bool `json:"online"`
	// NATS is what the server reports about itself; absent when offline.
	NATS *jetstream.Server `json:"nats,omitempty"`
	// Unit is systemd's state of the unit (active, inactive, failed,
	// activating, not-found), "unreachable" when SSH failed, "" when not
	// asked.
	Unit       string               `json:"unit,omitempty"`
	UnitDetail *provision.UnitState `json:"unit_detail,omitempty"`
	UnitError  string               `json:"unit_error,omitempty"`
	// Monitoring is "answered" or "silent": whether the server's own
	// monitoring port answered (over SSH to its host); "" when not asked
	// (everything answered over NATS).
	Monitoring string `json:"monitoring,omitempty"`
	// Healthz is the server's /healthz verdict, asked over NATS with the
	// other requests: code 200, or 503 with the server's reason (it answers
	// everything else meanwhile); absent when it did not answer.
	Healthz *jetstream.Health `json:"healthz,omitempty"`
	// sshCause is why SSH to the host failed, in a few words
	// (remote.ShortCause), for warnings; "" when it did not.
	sshCause string
	// ClockOffsetS is how many seconds the host's clock is ahead of this
	// machine's (negative: behind), 0 when it agrees within the round trip;
	// absent when it was not read.
	ClockOffsetS *float64 `json:"clock_offset_s,omitempty"`
}

// MetaPeer is one member of the meta group as its leader sees it.
type MetaPeer struct {
	Name     string `json:"name"`
	ID       string `json:"id"` // the RAFT peer id nats-server derives from the name
	Leader   bool   `json:"leader"`
	Current  bool   `json:"current"`
	Online   bool   `json:"online"`
	ActiveMS int64  `json:"active_ms"` // since the leader last heard from it
	Lag      uint64 `json:"lag"`
}

// Stream is one stream with its replicas as the stream leader sees them.
type Stream struct {
	Name string `json:"name"`
	// Account is the JetStream account the stream lives in: two accounts
	// may each have a stream of one name.
	Account   string    `json:"account,omitempty"`
	Storage   string    `json:"storage"`
	Replicas  int       `json:"replicas"` // configured
	Leader    string    `json:"leader"`
	Peers     []Replica `json:"peers"` // leader first
	Messages  uint64    `json:"messages"`
	Bytes     uint64    `json:"bytes"`
	Consumers int       `json:"consumers"`
	// ReplicasByDC counts the stream's replicas (leader included) in each
	// data center, by the inventory's dc of each replica's server.
	ReplicasByDC map[string]int `json:"replicas_by_dc"`
	// PlacementTags are the stream's configured placement tags.
	PlacementTags []string `json:"placement_tags,omitempty"`
	// Problem is why the stream is not whole, "" when it is.
	Problem string `json:"problem,omitempty"`
	// CatchingUp names followers a few entries behind on a stream taking
	// writes, whose lag shrinks or keeps pace: not a problem.
	CatchingUp []string `json:"catching_up,omitempty"`

	// label names the stream in tables and warnings (ACCOUNT/NAME with
	// more than one JetStream account); "" for Name.
	label string
}

// Label names the stream for an operator: ACCOUNT/NAME when the inventory
// has more than one JetStream account, else its name.
func (s *Stream) Label() string {
	if s.label != "" {
		return s.label
	}
	return s.Name
}

// Replica is one copy of a stream.
type Replica struct {
	Name     string `json:"name"`
	Leader   bool   `json:"leader"`
	Current  bool   `json:"current"`
	Online   bool   `json:"online"`
	Lag      uint64 `json:"lag"`
	ActiveMS int64  `json:"active_ms"`
}

// LeafLink is one leafnode connection of a leaf cluster's server to its hub,
// for one account. Hub is "" when the link the inventory expects is missing.
type LeafLink struct {
	Server  string `json:"server"`
	Account string `json:"account"`
	Hub     string `json:"hub"`
	RTT     string `json:"rtt,omitempty"`
}

// Collect builds the report. It returns an error only for bad input (an
// unknown domain); everything that did not answer is part of the report.
func Collect(ctx context.Context, s *provision.Session, o Options) (*Report, error) {
	start := time.Now()
	inv := s.Inv
	var clusters []*inventory.Cluster
	for _, cl := range inv.Clusters {
		if o.Domain == "" || cl.Domain == o.Domain {
			clusters = append(clusters, cl)
		}
	}
	if len(clusters) == 0 {
		var names []string
		for _, cl := range inv.Clusters {
			names = append(names, cl.Domain)
		}
		return nil, fmt.Errorf("domain %q is not in inventory %s (domains: %v)", o.Domain, inv.File, names)
	}
	var nodes []*inventory.Node
	for _, cl := range clusters {
		nodes = append(nodes, cl.Nodes...)
	}

	r := &Report{Time: start.UTC(), Domains: []*Domain{}, Warnings: []Warning{}}
	var units map[string]unitResult
	if o.Units {
		// Dial every host first, all at once: the NATS connection goes
		// through these SSH connections too, and a silent host then costs
		// one dial timeout in total, not one per use.
		failed := s.Connect(ctx, nodes)
		// Dial the failed hosts afresh next time (--watch): a host that
		// was down may be back.
		defer func() {
			for n := range failed {
				s.Forget(n)
			}
		}()
	}
	var wg sync.WaitGroup
	if o.Units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			units = collectUnits(ctx, s, nodes)
		}()
	}
	var routes map[string]*Routes
	if o.Routes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			routes = collectRoutes(ctx, s, clusters)
		}()
	}
	nr := collectNATS(ctx, s, clusters)
	wg.Wait()
	var sides *sideResult
	if needSides(clusters, nr) {
		sides = collectSides(ctx, s, clusters, nr)
	}

	for _, cl := range clusters {
		d := buildDomain(inv, cl, nr, units, sides)
		d.Routes = routes[cl.Name]
		r.Domains = append(r.Domains, d)
	}
	if nr.err != nil {
		r.NATSError = nr.err.Error()
	}
	if r.NATSVia = nr.via; r.NATSVia != "" {
		if n := inv.Node(nr.via); n != nil {
			r.NATSViaDC = n.DC
		}
	}
	for _, le := range nr.refused {
		r.RefusedAccounts = append(r.RefusedAccounts, RefusedAccount{Account: le.Account, User: le.User, PasswordFrom: le.Source, Error: le.Error()})
	}
	r.DCs = dcSummary(r, o.Units)
	discountCut(inv, r)
	r.Warnings = warnings(inv, r)
	r.Healthy = true
	for _, w := range r.Warnings {
		if w.Level == LevelDegraded {
			r.Healthy = false
		}
	}
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// natsResult is everything asked over NATS, gathered in parallel.
type natsResult struct {
	err       error  // no connection at all
	via       string // the server the connection is on
	servers   []jetstream.Server
	leafs     []jetstream.ServerLeafnodes
	leafErr   error
	health    map[string]jetstream.Health // by server name
	meta      map[string]*jetstream.MetaGroup
	metaErr   map[string]error
	streams   map[string]*jetstream.StreamList
	streamErr map[string]error
	// refused are the accounts whose user the servers refused: streams
	// holds the other accounts' streams.
	refused []*jetstream.LoginError
	// first is the earlier look at a domain's streams when streams holds a
	// second one (needsResample).
	first map[string]*jetstream.StreamList
}

func collectNATS(ctx context.Context, s *provision.Session, clusters []*inventory.Cluster) *natsResult {
	nr := &natsResult{meta: map[string]*jetstream.MetaGroup{}, metaErr: map[string]error{},
		streams: map[string]*jetstream.StreamList{}, streamErr: map[string]error{},
		first: map[string]*jetstream.StreamList{}}
	nc, err := s.NATS(ctx)
	if err != nil {
		nr.err = err
		return nr
	}
	nr.via = nc.ConnectedServer()
	nr.refused = nc.Refused()
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		// One request every server answers, beside the others: no round
		// trip per host. A failure leaves the servers without a verdict.
		health, _ := nc.Healthz(ctx)
		mu.Lock()
		defer mu.Unlock()
		nr.health = health
	}()
	go func() {
		defer wg.Done()
		servers, err := nc.Servers(ctx)
		mu.Lock()
		defer mu.Unlock()
		nr.servers = servers
		if err != nil && nr.err == nil {
			nr.err = err
		}
	}()
	go func() {
		defer wg.Done()
		leafs, err := nc.Leafnodes(ctx)
		mu.Lock()
		defer mu.Unlock()
		nr.leafs, nr.leafErr = leafs, err
	}()
	for _, cl := range clusters {
		d := cl.Domain
		wg.Add(2)
		go func() {
			defer wg.Done()
			m, err := nc.Meta(ctx, d)
			mu.Lock()
			defer mu.Unlock()
			nr.meta[d], nr.metaErr[d] = m, err
		}()
		// Streams are asked per domain: each domain has its own JetStream
		// API, reached as $JS.<domain>.API (docs/nats-facts.md); and per
		// account, each through its own user.
		go func() {
			defer wg.Done()
			// One account's refused login must not hide the others'
			// streams: its warning says what is missing.
			list := func(ctx context.Context) (*jetstream.StreamList, error) { return nc.ReadableStreams(ctx, d) }
			l, err := list(ctx)
			var first *jetstream.StreamList
			if err == nil && needsResample(l) {
				if again := resample(ctx, list); again != nil {
					first, l = l, again
				}
			}
			mu.Lock()
			defer mu.Unlock()
			nr.streams[d], nr.streamErr[d], nr.first[d] = l, err, first
		}()
	}
	wg.Wait()
	return nr
}

// unitTimeout bounds asking one host for its unit state once connected.
const unitTimeout = 5 * time.Second

type unitResult struct {
	state provision.UnitState
	err   error
}

func collectUnits(ctx context.Context, s *provision.Session, nodes []*inventory.Node) map[string]unitResult {
	out := map[string]unitResult{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A host that accepted SSH but hangs must not stall the report.
			uctx, cancel := context.WithTimeout(ctx, unitTimeout)
			defer cancel()
			st, err := s.UnitState(uctx, n.Name)
			if err != nil {
				// The connection may have died since it was opened (the
				// host rebooted): dial afresh next time (--watch).
				s.Forget(n.Name)
			}
			mu.Lock()
			defer mu.Unlock()
			out[n.Name] = unitResult{st, err}
		}()
	}
	wg.Wait()
	return out
}

func buildDomain(inv *inventory.Inventory, cl *inventory.Cluster, nr *natsResult, units map[string]unitResult, sides *sideResult) *Domain {
	d := &Domain{Name: cl.Domain, Cluster: cl.Name, LeafOf: cl.LeafOf,
		Servers: []*Server{}, Meta: []MetaPeer{}, Streams: []*Stream{}, Leafnodes: []LeafLink{}}
	byName := map[string]*jetstream.Server{}
	for i := range nr.servers {
		byName[nr.servers[i].Name] = &nr.servers[i]
	}
	for _, n := range cl.Nodes {
		sv := &Server{Name: n.Name, Host: n.Host, DC: n.DC, Standby: n.Standby}
		if js, ok := byName[n.Name]; ok {
			sv.Online, sv.NATS = true, js
		}
		if h, ok := nr.health[n.Name]; ok {
			sv.Healthz = &h
		}
		if sides != nil {
			sv.Monitoring = monitorSilent
			if sides.answered[n.Name] {
				sv.Monitoring = monitorAnswered
			}
		}
		if u, ok := units[n.Name]; ok {
			if u.err != nil {
				sv.Unit, sv.UnitError = "unreachable", u.err.Error()
				var ee *remote.ExitError
				if errors.As(u.err, &ee) {
					sv.Unit = "unknown" // reached the host, systemctl failed
				} else {
					sv.sshCause = remote.ShortCause(u.err)
				}
			} else {
				st := u.state
				sv.Unit, sv.UnitDetail = st.State(), &st
				if !st.Clock.IsZero() {
					off := st.ClockOffset.Round(time.Millisecond).Seconds()
					sv.ClockOffsetS = &off
				}
			}
		}
		d.Servers = append(d.Servers, sv)
	}

	m := nr.meta[cl.Domain]
	if sides != nil {
		d.Views = sides.views[cl.Domain]
		// No leader answered over NATS, but one answers on its monitoring
		// port: its own view is the meta group's (a leaf cluster whole in
		// its DC, whose system-account links to the hub are cut).
		if lm := sides.leader[cl.Domain]; lm != nil && (m == nil || !m.HasLeader()) {
			m, d.MetaSource = lm, "monitoring"
		}
	}
	if m != nil {
		d.MetaLeader, d.ClusterSize, d.Quorum, d.Responded = m.Leader, m.Size, m.Quorum, len(m.Responded)
		for _, p := range m.Peers {
			answered := contains(m.Responded, p.Name) || (sides != nil && sides.answered[p.Name])
			d.Meta = append(d.Meta, MetaPeer{Name: p.Name, ID: jetstream.PeerID(p.Name), Leader: p.Leader,
				Current: p.Current, Online: !p.Offline && answered,
				ActiveMS: p.Active.Milliseconds(), Lag: p.Lag})
		}
	} else if err := nr.metaErr[cl.Domain]; err != nil {
		d.MetaError = err.Error()
	}
	if d.MetaLeader == "" {
		// Without a leader nobody knows the group; the inventory does. Show
		// the members that did not answer as offline beside those that did.
		for _, n := range cl.Active() {
			if !containsPeer(d.Meta, n.Name) {
				d.Meta = append(d.Meta, MetaPeer{Name: n.Name, ID: jetstream.PeerID(n.Name)})
			}
		}
		sort.Slice(d.Meta, func(i, j int) bool { return d.Meta[i].Name < d.Meta[j].Name })
	}
	if d.ClusterSize == 0 || (d.MetaLeader == "" && d.ClusterSize < len(cl.Active())) {
		// No server answered, or no leader speaks for the group and the
		// survivors know fewer peers than the inventory names (a server
		// that has not yet heard of every peer reports the peers it
		// knows): the inventory says how big the group is.
		d.ClusterSize = len(cl.Active())
		d.Quorum = d.ClusterSize/2 + 1
	}

	l, first := nr.streams[cl.Domain], nr.first[cl.Domain]
	if sides != nil && sides.streams[cl.Domain] != nil && (l == nil || d.MetaSource != "") {
		l, first = sides.streams[cl.Domain], nil
	}
	if l != nil {
		for _, st := range l.Streams {
			d.Streams = append(d.Streams, streamOf(inv, st, earlier(first, st)))
		}
		d.MissingStreams = l.Missing
		var mon *jetstream.StreamList
		if sides != nil {
			mon = sides.monitorStreams[cl.Domain]
		}
		d.Leaderless = leaderlessStreams(d, mon)
	} else if err := nr.streamErr[cl.Domain]; err != nil {
		d.StreamsError = err.Error()
	}

	if cl.IsLeaf() {
		d.Leafnodes = leafLinks(inv, cl, nr.leafs)
	}
	if nr.leafErr == nil && acceptsLeafs(inv, cl) {
		d.LeafLinksAccepted = acceptedLeafLinks(cl, nr.leafs)
		d.leafHome = leafHomes(inv, cl)
	}
	return d
}

// streamOf is st as reported; prev is the look at it a moment earlier, nil
// when there was none (judgeStream).
func streamOf(inv *inventory.Inventory, st jetstream.StreamState, prev *jetstream.StreamState) *Stream {
	s := &Stream{Name: st.Name, Account: st.Account, label: inv.StreamLabel(st.Account, st.Name), Storage: st.Storage, Replicas: st.Replicas, Leader: st.Leader,
		Peers: []Replica{}, Messages: st.Msgs, Bytes: st.Bytes, Consumers: st.Consumers,
		ReplicasByDC: map[string]int{}, PlacementTags: st.PlacementTags}
	for _, p := range st.Peers() {
		dc := "?" // a server the inventory does not know (removed from it)
		if n := inv.Node(p); n != nil {
			dc = n.DC
		}
		s.ReplicasByDC[dc]++
	}
	if st.Leader != "" {
		s.Peers = append(s.Peers, Replica{Name: st.Leader, Leader: true, Current: true, Online: true})
	}
	for _, f := range st.Followers {
		s.Peers = append(s.Peers, Replica{Name: f.Name, Current: f.Current, Online: !f.Offline,
			Lag: f.Lag, ActiveMS: f.Active.Milliseconds()})
	}
	problem, catching := judgeStream(st, prev)
	if problem != "" {
		s.Problem = problem
		if s.Label() != s.Name {
			s.Problem = "account " + s.Account + ": " + s.Problem
		}
	}
	s.CatchingUp = catching
	return s
}

// leafLinks pairs every leafnode remote the inventory expects of a leaf
// cluster's running servers with the connection the server reports.
func leafLinks(inv *inventory.Inventory, cl *inventory.Cluster, leafs []jetstream.ServerLeafnodes) []LeafLink {
	out := []LeafLink{}
	reported := map[string]jetstream.ServerLeafnodes{}
	for _, l := range leafs {
		reported[l.Server] = l
	}
	for _, n := range cl.Active() {
		sl, ok := reported[n.Name]
		if !ok {
			continue // offline: reported as such elsewhere
		}
		seen := map[string]bool{}
		for _, l := range sl.Leafs {
			if !l.Spoke {
				continue
			}
			seen[l.Account] = true
			out = append(out, LeafLink{Server: n.Name, Account: l.Account, Hub: l.Remote, RTT: l.RTT})
		}
		for _, rm := range inv.LeafRemotes(n) {
			if !seen[rm.Account] {
				out = append(out, LeafLink{Server: n.Name, Account: rm.Account})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Server != out[j].Server {
			return out[i].Server < out[j].Server
		}
		return out[i].Account < out[j].Account
	})
	return out
}

func containsPeer(peers []MetaPeer, name string) bool {
	for _, p := range peers {
		if p.Name == name {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
