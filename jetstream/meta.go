package jetstream

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Peer is one member of a RAFT group (the meta group or a stream's group) as
// the group's leader sees it.
type Peer struct {
	Name    string        `json:"name"`
	Leader  bool          `json:"leader,omitempty"`
	Current bool          `json:"current"`
	Offline bool          `json:"offline,omitempty"`
	Active  time.Duration `json:"active"` // since the leader last heard from it
	Lag     uint64        `json:"lag,omitempty"`
}

// Healthy reports whether the peer is online and caught up.
func (p Peer) Healthy() bool { return p.Current && !p.Offline }

func (p Peer) describe() string {
	switch {
	case p.Offline:
		return p.Name + " offline"
	case !p.Current:
		return fmt.Sprintf("%s not current (lag %d)", p.Name, p.Lag)
	default:
		return p.Name + " current"
	}
}

// MetaGroup is the JetStream meta group of one domain.
type MetaGroup struct {
	Domain  string `json:"domain"`
	Cluster string `json:"cluster"`
	// Leader is empty when the domain has no meta leader: JetStream
	// administration (stream create/update/peer-remove) is then impossible,
	// although streams with a live majority keep accepting messages.
	Leader string `json:"leader"`
	Size   int    `json:"cluster_size"`
	Quorum int    `json:"quorum"`
	// Peers are every known member, leader included, sorted by name. With no
	// leader they are the servers that answered, since nobody has the
	// authoritative view.
	Peers []Peer `json:"peers"`
	// Responded are the servers of the domain that answered.
	Responded []string `json:"responded"`
}

// HasLeader reports whether the domain has a meta leader.
func (m *MetaGroup) HasLeader() bool { return m.Leader != "" }

// Peer returns the named member.
func (m *MetaGroup) Peer(name string) (Peer, bool) {
	for _, p := range m.Peers {
		if p.Name == name {
			return p, true
		}
	}
	return Peer{}, false
}

// HealthyPeers lists, sorted, the members that are online and current,
// leaving out without ("" for none): the peers that count toward the
// quorum, and the servers a new stream replica can be placed on.
func (m *MetaGroup) HealthyPeers(without string) []string {
	var out []string
	for _, p := range m.Peers {
		if p.Name != without && p.Healthy() {
			out = append(out, p.Name)
		}
	}
	sort.Strings(out)
	return out
}

// QuorumHealthy is the meta quorum rule: the group has a leader and at
// least Quorum members online and current, so that JetStream can be
// administered (streams created, changed, peer-removed). It returns nil
// when it holds and says what is missing otherwise.
func (m *MetaGroup) QuorumHealthy() error { return m.quorum("") }

// QuorumWithout is the rule for taking server away: the group keeps its
// quorum with what is online and current now, server not counted.
func (m *MetaGroup) QuorumWithout(server string) error { return m.quorum(server) }

func (m *MetaGroup) quorum(without string) error {
	if !m.HasLeader() {
		return fmt.Errorf("domain %q has no meta leader (%d of %d servers answered: %s): JetStream cannot be administered; bring servers back before changing anything",
			m.Domain, len(m.Responded), m.Size, strings.Join(m.Responded, ", "))
	}
	healthy := len(m.HealthyPeers(without))
	if healthy >= m.Quorum {
		return nil
	}
	var bad []string
	for _, p := range m.Peers {
		if p.Name != without && !p.Healthy() {
			bad = append(bad, p.describe())
		}
	}
	msg := fmt.Sprintf("domain %q meta group has %d healthy peers, %d needed for its quorum", m.Domain, healthy, m.Quorum)
	if without != "" {
		msg = fmt.Sprintf("domain %q meta group would lose quorum without %s: %d healthy peers left, %d needed", m.Domain, without, healthy, m.Quorum)
	}
	if len(bad) > 0 {
		msg += " (" + strings.Join(bad, ", ") + ")"
	}
	return fmt.Errorf("%s: restore the other servers first", msg)
}

// jszRequest is the body of $SYS.REQ.SERVER.PING.JSZ: JSzOptions and the
// event filter flattened into one object.
type jszRequest struct {
	LeaderOnly bool   `json:"leader_only,omitempty"`
	Domain     string `json:"domain,omitempty"`
}

// Meta reports the meta group of domain. Every live server of the domain is
// asked (with the domain filter, so other domains' servers stay quiet: without
// it the first reply wins, whichever domain it comes from; see
// docs/nats-facts.md); the leader's own reply is the authoritative view of the peers, since
// followers report everyone as not current. It returns as soon as all known
// members answered, else after the request timeout: a domain with servers
// down answers within one timeout, and "no meta leader" is a state in the
// result, not an error. An error means no server of the domain answered.
func (c *Conn) Meta(ctx context.Context, domain string) (*MetaGroup, error) {
	enough := func(rs []serverReply) bool {
		size := 0
		for _, r := range rs {
			var j jszData
			if json.Unmarshal(r.Data, &j) == nil && j.Meta != nil && j.Meta.Size > size {
				size = j.Meta.Size
			}
		}
		return size > 0 && len(rs) >= size
	}
	replies, err := c.gather(ctx, "$SYS.REQ.SERVER.PING.JSZ", jszRequest{Domain: domain}, enough)
	if err != nil {
		return nil, fmt.Errorf("meta group of domain %q: %w", domain, err)
	}
	return metaFromReplies(domain, replies, c.names)
}

// metaFromReplies builds the group from the servers' /jsz answers; names
// are the server names its peers are told by (see namePeer).
func metaFromReplies(domain string, replies []serverReply, names []string) (*MetaGroup, error) {
	m := &MetaGroup{Domain: domain, Peers: []Peer{}, Responded: []string{}}
	var leader *metaData
	claims := map[string]int{}
	for _, r := range replies {
		if r.Error != nil {
			continue
		}
		var j jszData
		if err := json.Unmarshal(r.Data, &j); err != nil {
			return nil, fmt.Errorf("meta group of domain %q: decode jsz of %s: %w", domain, r.Server.Name, err)
		}
		m.Responded = append(m.Responded, r.Server.Name)
		if m.Cluster == "" {
			m.Cluster = r.Server.Cluster
		}
		if j.Meta == nil {
			continue
		}
		if j.Meta.Size > m.Size {
			m.Size = j.Meta.Size
		}
		if j.Meta.Leader != "" {
			claims[j.Meta.Leader]++
		}
		if j.Meta.Leader != "" && j.Meta.Leader == r.Server.Name {
			meta := *j.Meta
			leader = &meta
		}
	}
	sort.Strings(m.Responded)
	if len(m.Responded) == 0 {
		return nil, fmt.Errorf("meta group of domain %q: no server of the domain answered", domain)
	}
	if leader == nil {
		// Nobody claims to lead: no quorum, or an election is under way.
		// Record who answered so that the caller can show the survivors.
		m.Quorum = m.Size/2 + 1
		for _, n := range m.Responded {
			m.Peers = append(m.Peers, Peer{Name: n, Current: false})
		}
		return m, nil
	}
	m.Leader = leader.Leader
	if leader.Name != "" {
		m.Cluster = leader.Name
	}
	m.Size = leader.Size
	m.Quorum = leader.QuorumNeeded
	if m.Quorum == 0 {
		m.Quorum = m.Size/2 + 1
	}
	m.Peers = append(m.Peers, Peer{Name: m.Leader, Leader: true, Current: true})
	for _, p := range leader.Replicas {
		m.Peers = append(m.Peers, Peer{Name: namePeer(p.Name, names), Current: p.Current, Offline: p.Offline, Active: p.Active, Lag: p.Lag})
	}
	sort.Slice(m.Peers, func(i, j int) bool { return m.Peers[i].Name < m.Peers[j].Name })
	return m, nil
}

// MetaPeerRemove removes server from the meta group of domain, for a server
// that is gone for good. It needs the system account. The domain prefix works
// for the system account because every JetStream server maps
// $JS.<its domain>.API.> to its own $JS.API.> there, so the request reaches the
// right domain from any server. A server removed this way is not readmitted
// under the same name for about 5 minutes, though its /healthz says 200
// (docs/nats-facts.md): replace it with a new name.
func (c *Conn) MetaPeerRemove(ctx context.Context, domain, server string) error {
	nc, err := c.sysConn()
	if err != nil {
		return fmt.Errorf("remove %s from the meta group of domain %q: %w", server, domain, err)
	}
	req := struct {
		Server string `json:"peer"`
	}{server}
	var resp struct {
		Success bool `json:"success"`
	}
	if err := c.apiRequest(ctx, nc, apiPrefix(domain)+".SERVER.REMOVE", req, &resp); err != nil {
		return fmt.Errorf("remove %s from the meta group of domain %q: %w", server, domain, err)
	}
	if !resp.Success {
		return fmt.Errorf("remove %s from the meta group of domain %q: server did not confirm", server, domain)
	}
	return nil
}

// MetaStepDown asks the meta leader of domain to hand over, to preferred when
// it is not empty. It needs the system account.
func (c *Conn) MetaStepDown(ctx context.Context, domain, preferred string) error {
	nc, err := c.sysConn()
	if err != nil {
		return fmt.Errorf("meta leader step-down in domain %q: %w", domain, err)
	}
	var req any
	if preferred != "" {
		req = map[string]any{"placement": map[string]string{"preferred": preferred}}
	}
	var resp struct {
		Success bool `json:"success"`
	}
	if err := c.apiRequest(ctx, nc, apiPrefix(domain)+".META.LEADER.STEPDOWN", req, &resp); err != nil {
		return fmt.Errorf("meta leader step-down in domain %q: %w", domain, err)
	}
	if !resp.Success {
		return fmt.Errorf("meta leader step-down in domain %q: server did not confirm", domain)
	}
	return nil
}
