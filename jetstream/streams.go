package jetstream

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dcctl/dcctl/words"
)

// StreamState is a stream's configuration summary, its RAFT group as the
// stream leader sees it, and its contents.
type StreamState struct {
	Name string `json:"name"`
	// Account is the account the stream lives in: streams of one name in
	// two accounts are two streams.
	Account  string    `json:"account,omitempty"`
	Domain   string    `json:"domain"`
	Created  time.Time `json:"created"`
	Subjects []string  `json:"subjects"`
	Storage  string    `json:"storage"`  // "file" or "memory"
	Replicas int       `json:"replicas"` // configured replica count
	// Retention is "limits", "workqueue" or "interest": on the last two,
	// consumers remove messages, so a range read earlier cannot be re-read.
	Retention string `json:"retention"`
	// Limits are the configured limits that discard messages on their own.
	Limits StreamLimits `json:"limits"`
	// Metadata is the stream's configured metadata (dcctl marks a stream it
	// restored there).
	Metadata map[string]string `json:"metadata,omitempty"`
	// PlacementTags are the configured placement tags: every replica's
	// server carries all of them.
	PlacementTags []string `json:"placement_tags,omitempty"`

	Cluster string `json:"cluster,omitempty"`
	// Leader is empty while the stream has no leader.
	Leader string `json:"leader,omitempty"`
	// Followers are the replicas other than the leader. During a catch-up
	// the list can briefly be shorter than Replicas-1 (docs/nats-facts.md).
	Followers []Peer `json:"followers"`

	Msgs        uint64 `json:"messages"`
	Bytes       uint64 `json:"bytes"`
	FirstSeq    uint64 `json:"first_seq"`
	LastSeq     uint64 `json:"last_seq"`
	NumDeleted  int    `json:"num_deleted,omitempty"`
	NumSubjects uint64 `json:"num_subjects,omitempty"`
	Consumers   int    `json:"consumers"`

	// config is the stream's full configuration as the server sent it, kept
	// so that an update changes only what we mean to change.
	config json.RawMessage
}

// Ref names the stream with its account, as ACCOUNT/NAME ("" account: the
// name alone).
func (s StreamState) Ref() string { return StreamRef(s.Account, s.Name) }

// StreamRef names a stream with its account, as ACCOUNT/NAME, or the name
// alone when account is "".
func StreamRef(account, name string) string {
	if account == "" {
		return name
	}
	return account + "/" + name
}

// Peers lists every replica's server name, leader first.
func (s StreamState) Peers() []string {
	var out []string
	if s.Leader != "" {
		out = append(out, s.Leader)
	}
	for _, f := range s.Followers {
		out = append(out, f.Name)
	}
	return out
}

// HasPeer reports whether server holds a replica of the stream.
func (s StreamState) HasPeer(server string) bool {
	for _, p := range s.Peers() {
		if p == server {
			return true
		}
	}
	return false
}

// Quorum is how many current replicas the stream needs to elect a leader
// and accept writes: a majority of its configured replicas.
func (s StreamState) Quorum() int { return s.Replicas/2 + 1 }

// CurrentWithout counts the replicas that are online and current (the
// leader among them), leaving out server ("" for none).
func (s StreamState) CurrentWithout(server string) int {
	n := 0
	if s.Leader != "" && s.Leader != server {
		n++
	}
	for _, f := range s.Followers {
		if f.Name != server && f.Healthy() {
			n++
		}
	}
	return n
}

// MajorityWithout is the stream majority rule for losing server for good:
// nil when the stream keeps a leader-electing majority of current replicas
// without it, so that no acknowledged message lives only there.
func (s StreamState) MajorityWithout(server string) error {
	if have, need := s.CurrentWithout(server), s.Quorum(); have < need {
		return fmt.Errorf("stream %s has %d current replicas besides %s, %d needed for its quorum", s.Name, have, server, need)
	}
	return nil
}

// Current returns nil when the stream has a leader and all of its configured
// replicas, every follower online and current. Both conditions matter: during
// a catch-up the follower list is briefly empty, then lists the new replica
// as not current with lag 0 (docs/nats-facts.md).
func (s StreamState) Current() error {
	if s.Leader == "" {
		return fmt.Errorf("stream %s has no leader", s.Name)
	}
	if have := 1 + len(s.Followers); have > s.Replicas {
		// More peers than replicas: a move to other servers (new placement
		// tags) under way; "2 of 1 replicas" told the operator nothing, and
		// a move stalls on a new peer that is offline.
		peers := []string{s.Leader + " leader"}
		for _, f := range s.Followers {
			peers = append(peers, f.describe())
		}
		return fmt.Errorf("stream %s is moving to other servers: %d peers for its %s until the move ends (%s)", s.Name, have, words.Count(s.Replicas, "replica"), strings.Join(peers, ", "))
	} else if have != s.Replicas {
		return fmt.Errorf("stream %s has %d of %d replicas (%s)", s.Name, have, s.Replicas, strings.Join(s.Peers(), ", "))
	}
	var bad []string
	for _, f := range s.Followers {
		if !f.Healthy() {
			bad = append(bad, f.describe())
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("stream %s replicas not current: %s", s.Name, strings.Join(bad, ", "))
	}
	return nil
}

// wire types: the subset of STREAM.INFO / STREAM.LIST replies we use.
type streamInfoData struct {
	Config  json.RawMessage `json:"config"`
	Created time.Time       `json:"created"`
	Cluster *struct {
		Name     string     `json:"name,omitempty"`
		Leader   string     `json:"leader,omitempty"`
		Replicas []peerData `json:"replicas,omitempty"`
	} `json:"cluster,omitempty"`
	State struct {
		Msgs        uint64 `json:"messages"`
		Bytes       uint64 `json:"bytes"`
		FirstSeq    uint64 `json:"first_seq"`
		LastSeq     uint64 `json:"last_seq"`
		NumDeleted  int    `json:"num_deleted,omitempty"`
		NumSubjects uint64 `json:"num_subjects,omitempty"`
		Consumers   int    `json:"consumer_count"`
	} `json:"state"`
}

type streamConfigData struct {
	Name      string            `json:"name"`
	Subjects  []string          `json:"subjects,omitempty"`
	Storage   string            `json:"storage"`
	Replicas  int               `json:"num_replicas"`
	Retention string            `json:"retention"`
	MaxMsgs   int64             `json:"max_msgs"`
	MaxBytes  int64             `json:"max_bytes"`
	MaxAge    time.Duration     `json:"max_age"`
	MaxPerSub int64             `json:"max_msgs_per_subject"`
	Discard   string            `json:"discard"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// StreamLimits are the limits of a stream that remove messages without
// anyone asking: the oldest go when MaxMsgs, MaxBytes (discard "old") or
// MaxAge is reached, older messages of a subject when MaxPerSubject is.
type StreamLimits struct {
	MaxMsgs       int64         `json:"max_msgs,omitempty"`
	MaxBytes      int64         `json:"max_bytes,omitempty"`
	MaxAge        time.Duration `json:"max_age,omitempty"`
	MaxPerSubject int64         `json:"max_msgs_per_subject,omitempty"`
	Discard       string        `json:"discard,omitempty"`
}

// DiscardsOldest reports whether the stream drops its oldest messages by
// itself (age, or count and size with discard "old").
func (l StreamLimits) DiscardsOldest() bool {
	return l.MaxAge > 0 || (l.Discard != "new" && (l.MaxMsgs > 0 || l.MaxBytes > 0))
}

func (d streamInfoData) state(domain string, names []string) (StreamState, error) {
	var cfg streamConfigData
	if err := json.Unmarshal(d.Config, &cfg); err != nil {
		return StreamState{}, fmt.Errorf("decode stream config: %w", err)
	}
	s := StreamState{
		Name: cfg.Name, Domain: domain, Created: d.Created,
		Subjects: cfg.Subjects, Storage: cfg.Storage, Replicas: cfg.Replicas,
		Retention: cfg.Retention, Metadata: cfg.Metadata,
		Limits:    StreamLimits{MaxMsgs: cfg.MaxMsgs, MaxBytes: cfg.MaxBytes, MaxAge: cfg.MaxAge, MaxPerSubject: cfg.MaxPerSub, Discard: cfg.Discard},
		Followers: []Peer{},
		Msgs:      d.State.Msgs, Bytes: d.State.Bytes, FirstSeq: d.State.FirstSeq, LastSeq: d.State.LastSeq,
		NumDeleted: d.State.NumDeleted, NumSubjects: d.State.NumSubjects, Consumers: d.State.Consumers,
		PlacementTags: placementTags(d.Config),
		config:        d.Config,
	}
	if s.Replicas == 0 {
		s.Replicas = 1
	}
	if s.Retention == "" {
		s.Retention = "limits"
	}
	if d.Cluster != nil {
		s.Cluster, s.Leader = d.Cluster.Name, d.Cluster.Leader
		for _, p := range d.Cluster.Replicas {
			s.Followers = append(s.Followers, Peer{Name: namePeer(p.Name, names), Current: p.Current, Offline: p.Offline, Active: p.Active, Lag: p.Lag})
		}
		sort.Slice(s.Followers, func(i, j int) bool { return s.Followers[i].Name < s.Followers[j].Name })
	}
	return s, nil
}

// Stream reports one stream of domain, through the application account. The
// reply comes from the stream leader, whose view of the replicas is the one
// to trust: followers report every replica as not current
// (docs/nats-facts.md).
func (c *Conn) Stream(ctx context.Context, domain, name string) (*StreamState, error) {
	nc, err := c.appConn()
	if err != nil {
		return nil, fmt.Errorf("stream %s in domain %q: %w", name, domain, err)
	}
	var info streamInfoData
	if err := c.apiRequest(ctx, nc, apiPrefix(domain)+".STREAM.INFO."+name, nil, &info); err != nil {
		return nil, fmt.Errorf("stream %s in domain %q: %w", name, domain, err)
	}
	s, err := info.state(domain, c.names)
	if err != nil {
		return nil, fmt.Errorf("stream %s in domain %q: %w", name, domain, err)
	}
	s.Account = c.account
	return &s, nil
}

// StreamList is every stream of a domain. Missing names streams the meta
// leader knows of but whose leader did not answer in time (offline or
// leaderless streams): by name from Conn.Streams (one account); from
// Monitor.Streams (every account) as ACCOUNT/NAME when more than one
// account has streams.
type StreamList struct {
	Streams []StreamState `json:"streams"`
	Missing []string      `json:"missing,omitempty"`
	// Holders are, from Monitor.Streams, the servers that hold a replica of
	// each Missing stream, keyed ACCOUNT/NAME: the servers that reported it
	// and the peers they named. Where those servers are says why no leader
	// answered (a DC cut off holding most of its replicas).
	Holders map[string][]string `json:"holders,omitempty"`
}

// Label names st for a message: as ACCOUNT/NAME when the list holds the
// streams of more than one account (two may share a name), else by name.
func (l *StreamList) Label(st StreamState) string {
	for _, o := range l.Streams {
		if o.Account != st.Account {
			return st.Ref()
		}
	}
	return st.Name
}

// Streams lists the streams of domain with their state, sorted by name.
func (c *Conn) Streams(ctx context.Context, domain string) (*StreamList, error) {
	nc, err := c.appConn()
	if err != nil {
		return nil, fmt.Errorf("list streams in domain %q: %w", domain, err)
	}
	out := &StreamList{Streams: []StreamState{}}
	for offset := 0; ; {
		var page struct {
			Total   int              `json:"total"`
			Offset  int              `json:"offset"`
			Limit   int              `json:"limit"`
			Streams []streamInfoData `json:"streams"`
			Missing []string         `json:"missing,omitempty"`
		}
		req := map[string]int{"offset": offset}
		if err := c.apiRequest(ctx, nc, apiPrefix(domain)+".STREAM.LIST", req, &page); err != nil {
			return nil, fmt.Errorf("list streams in domain %q: %w", domain, err)
		}
		for _, d := range page.Streams {
			s, err := d.state(domain, c.names)
			if err != nil {
				return nil, fmt.Errorf("list streams in domain %q: %w", domain, err)
			}
			s.Account = c.account
			out.Streams = append(out.Streams, s)
		}
		out.Missing = append(out.Missing, page.Missing...)
		offset += len(page.Streams)
		if len(page.Streams) == 0 || offset >= page.Total {
			break
		}
	}
	sort.Slice(out.Streams, func(i, j int) bool { return out.Streams[i].Name < out.Streams[j].Name })
	sort.Strings(out.Missing)
	return out, nil
}

// AllStreams lists the streams of domain in every account the Conn has a
// connection for, each with its account, sorted by name then account. With
// more than one account, Missing names streams as ACCOUNT/NAME.
func (c *Conn) AllStreams(ctx context.Context, domain string) (*StreamList, error) {
	return c.streamsOf(ctx, domain, false)
}

// ReadableStreams is AllStreams without the accounts whose user the servers
// refused (Refused names them): what a report can still show when one
// account's password is wrong. Whatever must see every account's streams
// (a runbook's baseline, a safety check) uses AllStreams, which fails.
func (c *Conn) ReadableStreams(ctx context.Context, domain string) (*StreamList, error) {
	return c.streamsOf(ctx, domain, true)
}

func (c *Conn) streamsOf(ctx context.Context, domain string, skipRefused bool) (*StreamList, error) {
	if len(c.apps) == 0 {
		return nil, fmt.Errorf("list streams in domain %q: %w", domain, ErrNoAppUser)
	}
	out := &StreamList{Streams: []StreamState{}}
	for _, a := range c.apps {
		if a.err != nil && skipRefused {
			continue
		}
		v, err := c.Account(a.account)
		if err != nil {
			return nil, fmt.Errorf("list streams in domain %q: %w", domain, err)
		}
		list, err := v.Streams(ctx, domain)
		if err != nil {
			if len(c.apps) > 1 {
				err = fmt.Errorf("account %s: %w", a.account, err)
			}
			return nil, err
		}
		out.Streams = append(out.Streams, list.Streams...)
		for _, m := range list.Missing {
			if len(c.apps) > 1 {
				m = StreamRef(a.account, m)
			}
			out.Missing = append(out.Missing, m)
		}
	}
	sort.SliceStable(out.Streams, func(i, j int) bool { return out.Streams[i].Name < out.Streams[j].Name })
	sort.Strings(out.Missing)
	return out, nil
}

// StreamPeerRemove removes server's replica of stream; the meta leader then
// places a new replica on another server, which catches up from the leader.
// Works with the application account; the meta peer-remove needs the system
// account (docs/nats-facts.md).
func (c *Conn) StreamPeerRemove(ctx context.Context, domain, stream, server string) error {
	nc, err := c.appConn()
	if err != nil {
		return fmt.Errorf("remove %s from stream %s in domain %q: %w", server, stream, domain, err)
	}
	req := struct {
		Peer string `json:"peer"`
	}{server}
	var resp struct {
		Success bool `json:"success"`
	}
	if err := c.apiRequest(ctx, nc, apiPrefix(domain)+".STREAM.PEER.REMOVE."+stream, req, &resp); err != nil {
		return fmt.Errorf("remove %s from stream %s in domain %q: %w", server, stream, domain, err)
	}
	if !resp.Success {
		return fmt.Errorf("remove %s from stream %s in domain %q: server did not confirm", server, stream, domain)
	}
	return nil
}

// SetReplicas changes stream's replica count to n, leaving the rest of its
// configuration as the server has it. Waiting for the new replicas to catch
// up is WaitStreamCurrent's job.
func (c *Conn) SetReplicas(ctx context.Context, domain, stream string, n int) error {
	if n < 1 {
		return fmt.Errorf("set replicas of stream %s to %d: must be at least 1", stream, n)
	}
	cur, err := c.Stream(ctx, domain, stream)
	if err != nil {
		return fmt.Errorf("set replicas of stream %s to %d: %w", stream, n, err)
	}
	if cur.Replicas == n {
		return nil
	}
	// Round-trip the whole configuration through a map so that fields this
	// package does not model survive the update unchanged.
	var cfg map[string]any
	if err := json.Unmarshal(cur.config, &cfg); err != nil {
		return fmt.Errorf("set replicas of stream %s to %d: decode config: %w", stream, n, err)
	}
	cfg["num_replicas"] = n
	nc, err := c.appConn()
	if err != nil {
		return fmt.Errorf("set replicas of stream %s to %d: %w", stream, n, err)
	}
	if err := c.apiRequest(ctx, nc, apiPrefix(domain)+".STREAM.UPDATE."+stream, cfg, nil); err != nil {
		return fmt.Errorf("set replicas of stream %s in domain %q to %d: %w", stream, domain, n, err)
	}
	return nil
}

// StreamStepDown asks the stream's leader to hand over, to preferred when not
// empty.
func (c *Conn) StreamStepDown(ctx context.Context, domain, stream, preferred string) error {
	nc, err := c.appConn()
	if err != nil {
		return fmt.Errorf("leader step-down of stream %s: %w", stream, err)
	}
	var req any
	if preferred != "" {
		req = map[string]any{"placement": map[string]string{"preferred": preferred}}
	}
	if err := c.apiRequest(ctx, nc, apiPrefix(domain)+".STREAM.LEADER.STEPDOWN."+stream, req, nil); err != nil {
		return fmt.Errorf("leader step-down of stream %s in domain %q: %w", stream, domain, err)
	}
	return nil
}
