package status

import (
	"context"
	"sort"
	"sync"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/jetstream"
	"github.com/dcctl/dcctl/provision"
)

// When some servers do not answer over NATS, status cannot tell from the
// NATS side alone whether they are dead or cut off: the system account's
// requests travel over the routes and leafnode links a cut between DCs
// severs. Each server's own monitoring port, reached over SSH to its host,
// tells: a server that answers there runs, and says which meta leader it
// follows. Asked per DC, these give each domain's meta group as the servers
// of that DC see it, so a leaf cluster that is whole in its DC is reported
// whole, and the backbone's quorum is reported per side.

// DC is what this machine reaches of one data center.
type DC struct {
	Name string `json:"name"`
	// Servers counts the active (not standby) servers of the reported
	// domains in the DC.
	Servers int `json:"servers"`
	// SSHAsked is false with --no-units: nothing was dialled.
	SSHAsked       bool     `json:"ssh_asked"`
	SSHReachable   int      `json:"ssh_reachable"`
	SSHUnreachable []string `json:"ssh_unreachable"`
	// NATSAnswered counts the servers that answered over dcctl's NATS
	// connection; NATSSilent lists the others.
	NATSAnswered int      `json:"nats_answered"`
	NATSSilent   []string `json:"nats_silent"`
	// MonitorAnswered lists the NATS-silent servers whose own monitoring
	// port answered over SSH: they run, but are cut off from the side the
	// NATS connection is on.
	MonitorAnswered []string `json:"monitor_answered"`
	// MonitorAsked is true when the silent servers' monitoring ports were
	// asked (some server was silent, or a domain had no meta leader).
	MonitorAsked bool `json:"monitor_asked"`
	// Cut is true when no server of the DC answered over NATS while others
	// did: a partition between DCs, or the whole DC down.
	Cut bool `json:"cut"`
}

// SideView is a domain's meta group as the servers of one DC report it on
// their monitoring ports.
type SideView struct {
	DC string `json:"dc"`
	// Answered are the domain's servers in the DC that answered.
	Answered []string `json:"answered"`
	// MetaLeader is the leader that claims itself among them, "" if none
	// does: the servers of this DC have no meta leader on their side.
	MetaLeader   string `json:"meta_leader"`
	ClusterSize  int    `json:"cluster_size"`
	Quorum       int    `json:"quorum"`
	HealthyPeers int    `json:"healthy_peers"` // as that leader sees them, within its reach
	Error        string `json:"error,omitempty"`
	err          error  // Error's chain, for its gist

	healthy []string // the healthy peers' names
}

// sideResult is every domain's per-DC monitoring view, and the
// leader's own view per domain where some DC has one.
type sideResult struct {
	views    map[string][]SideView           // by domain
	leader   map[string]*jetstream.MetaGroup // by domain: the view of the DC holding the leader
	answered map[string]bool                 // servers whose monitoring port answered
	// streams of the domains whose meta leader answered only on its
	// monitoring port or whose streams could not be listed over NATS, as
	// their stream leaders report them there.
	streams map[string]*jetstream.StreamList
	// monitorStreams are the streams of every domain with streams that did
	// not answer, as the servers report them on their monitoring ports:
	// where those streams' replicas are.
	monitorStreams map[string]*jetstream.StreamList
}

// needSides reports whether the NATS view is incomplete: a server silent or
// a domain without a meta leader.
func needSides(clusters []*inventory.Cluster, nr *natsResult) bool {
	answered := map[string]bool{}
	for _, s := range nr.servers {
		answered[s.Name] = true
	}
	for _, cl := range clusters {
		if m := nr.meta[cl.Domain]; m == nil || !m.HasLeader() {
			return true
		}
		for _, n := range cl.Active() {
			if !answered[n.Name] {
				return true
			}
		}
	}
	return false
}

// collectSides asks every server of every domain, per DC, for its /jsz.
func collectSides(ctx context.Context, s *provision.Session, clusters []*inventory.Cluster, nr *natsResult) *sideResult {
	sr := &sideResult{views: map[string][]SideView{}, leader: map[string]*jetstream.MetaGroup{}, answered: map[string]bool{},
		streams: map[string]*jetstream.StreamList{}, monitorStreams: map[string]*jetstream.StreamList{}}
	all := s.Monitor()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, cl := range clusters {
		for _, dc := range dcsOf(cl.Nodes) {
			wg.Go(func() {
				mon := jetstream.Monitor{Get: all.Get, Names: all.Names, Servers: func(string) []string {
					var out []string
					for _, n := range cl.Nodes {
						if n.DC == dc {
							out = append(out, n.Name)
						}
					}
					return out
				}}
				v := SideView{DC: dc, Answered: []string{}}
				m, err := mon.Meta(ctx, cl.Domain)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					v.Error, v.err = err.Error(), err
				} else {
					v.Answered = m.Responded
					v.MetaLeader, v.ClusterSize, v.Quorum = m.Leader, m.Size, m.Quorum
					for _, p := range m.Peers {
						if p.Healthy() {
							v.HealthyPeers++
							v.healthy = append(v.healthy, p.Name)
						}
					}
					for _, n := range m.Responded {
						sr.answered[n] = true
					}
					// A leader cut off from its majority still claims the
					// role, and reports its peers current, for a few
					// seconds: only a leader whose own DC holds a quorum of
					// the group is taken as the domain's.
					if m.HasLeader() && v.HealthyPeers >= m.Quorum && len(m.Responded) >= m.Quorum {
						sr.leader[cl.Domain] = m
					}
				}
				sr.views[cl.Domain] = append(sr.views[cl.Domain], v)
			})
		}
	}
	wg.Wait()
	// A domain whose leader answered only here, or whose streams could not
	// be listed over NATS (its application-account links cut), lists its
	// streams here too.
	for _, cl := range clusters {
		natsLeader := nr.meta[cl.Domain] != nil && nr.meta[cl.Domain].HasLeader()
		replace := sr.leader[cl.Domain] != nil && (!natsLeader || nr.streamErr[cl.Domain] != nil)
		// Streams that did not answer over NATS: their servers say where
		// the replicas are.
		missing := nr.streams[cl.Domain] != nil && len(nr.streams[cl.Domain].Missing) > 0
		if !replace && !missing {
			continue
		}
		wg.Go(func() {
			l, err := s.Monitor().Streams(ctx, cl.Domain)
			if err != nil {
				return // the NATS side's error stands
			}
			mu.Lock()
			defer mu.Unlock()
			sr.monitorStreams[cl.Domain] = l
			if replace {
				sr.streams[cl.Domain] = l
			}
		})
	}
	wg.Wait()
	for _, vs := range sr.views {
		sort.Slice(vs, func(i, j int) bool { return vs[i].DC < vs[j].DC })
	}
	return sr
}

func dcsOf(nodes []*inventory.Node) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range nodes {
		if !seen[n.DC] {
			seen[n.DC] = true
			out = append(out, n.DC)
		}
	}
	sort.Strings(out)
	return out
}

// dcSummary says per DC what this machine reached, from the report's
// servers (every domain's, standby nodes left out).
func dcSummary(r *Report, unitsAsked bool) []DC {
	byName := map[string]*DC{}
	var names []string
	for _, d := range r.Domains {
		for _, s := range d.Servers {
			if s.Standby {
				continue
			}
			dc := byName[s.DC]
			if dc == nil {
				dc = &DC{Name: s.DC, SSHAsked: unitsAsked, SSHUnreachable: []string{}, NATSSilent: []string{}, MonitorAnswered: []string{}}
				byName[s.DC] = dc
				names = append(names, s.DC)
			}
			dc.Servers++
			if unitsAsked {
				if s.Unit == "unreachable" {
					dc.SSHUnreachable = append(dc.SSHUnreachable, s.Name)
				} else {
					dc.SSHReachable++
				}
			}
			if s.Online {
				dc.NATSAnswered++
			} else {
				dc.NATSSilent = append(dc.NATSSilent, s.Name)
				dc.MonitorAsked = dc.MonitorAsked || s.Monitoring != ""
				if s.Monitoring == monitorAnswered {
					dc.MonitorAnswered = append(dc.MonitorAnswered, s.Name)
				}
			}
		}
	}
	sort.Strings(names)
	out := make([]DC, 0, len(names))
	someAnswered := false
	for _, n := range names {
		someAnswered = someAnswered || byName[n].NATSAnswered > 0
	}
	for _, n := range names {
		dc := byName[n]
		dc.Cut = len(names) > 1 && someAnswered && dc.NATSAnswered == 0
		out = append(out, *dc)
	}
	return out
}

// Values of Server.Monitoring.
const (
	monitorAnswered = "answered"
	monitorSilent   = "silent"
)

// discountCut recounts each side's healthy peers once the cut DCs are known:
// a leader only reaches the peers of its own DC if that DC is cut off, else
// those of the DCs not cut off. Right after a cut, nats-server still reports
// the peers beyond it current for a few seconds; counting them would say a
// leader without its majority can administer JetStream.
func discountCut(inv *inventory.Inventory, r *Report) {
	cut := map[string]bool{}
	for _, dc := range r.DCs {
		if dc.Cut {
			cut[dc.Name] = true
		}
	}
	if len(cut) == 0 {
		return
	}
	for _, d := range r.Domains {
		for i := range d.Views {
			v := &d.Views[i]
			if v.MetaLeader == "" {
				continue
			}
			n := 0
			for _, p := range v.healthy {
				node := inv.Node(p)
				if node == nil {
					continue
				}
				if (cut[v.DC] && node.DC == v.DC) || (!cut[v.DC] && !cut[node.DC]) {
					n++
				}
			}
			v.HealthyPeers = n
		}
	}
}
