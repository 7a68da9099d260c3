package jetstream

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
)

// Monitor reads a domain's JetStream state from its servers' monitoring
// endpoints (/jsz over HTTP) instead of NATS requests. Those need no
// credentials, so a health gate built on them keeps working while the very
// change it guards alters the users' passwords (a rotation, or a secrets
// file that no longer matches the servers).
type Monitor struct {
	// Get fetches path (with its query) from server's monitoring endpoint
	// and returns the body of a 200 answer.
	Get func(ctx context.Context, server, path string) ([]byte, error)
	// Servers lists the server names of domain.
	Servers func(domain string) []string
	// Names are every server name a peer may be told by (see namePeer);
	// nil: Servers(domain).
	Names []string
}

func (m Monitor) names(domain string) []string {
	if m.Names != nil {
		return m.Names
	}
	return m.Servers(domain)
}

// monitorReply is one server's /jsz answer, or why there is none.
type monitorReply struct {
	server string
	data   []byte
	err    error
}

func (m Monitor) fetchAll(ctx context.Context, domain, path string) []monitorReply {
	servers := m.Servers(domain)
	out := make([]monitorReply, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			data, err := m.Get(ctx, s, path)
			out[i] = monitorReply{server: s, data: data, err: err}
		})
	}
	wg.Wait()
	return out
}

// Meta reports the meta group of domain as Conn.Meta does, from every
// server's /jsz: the leader's answer is the authoritative view of the peers.
// An error means no server of the domain answered.
func (m Monitor) Meta(ctx context.Context, domain string) (*MetaGroup, error) {
	var replies []serverReply
	var last error
	for _, r := range m.fetchAll(ctx, domain, "/jsz") {
		if r.err != nil {
			last = r.err
			continue
		}
		var j jszData
		if err := json.Unmarshal(r.data, &j); err != nil {
			return nil, fmt.Errorf("meta group of domain %q: decode /jsz of %s: %w", domain, r.server, err)
		}
		info := serverInfo{Name: r.server, Domain: domain}
		if j.Meta != nil {
			info.Cluster = j.Meta.Name
		}
		replies = append(replies, serverReply{Server: info, Data: r.data})
	}
	if len(replies) == 0 {
		return nil, fmt.Errorf("meta group of domain %q: no server's monitoring endpoint answered (last: %w)", domain, last)
	}
	return metaFromReplies(domain, replies, m.names(domain))
}

// jszStreams is the part of /jsz?accounts=true&streams=true&config=true
// that lists each account's streams as the answering server sees them.
type jszStreams struct {
	Accounts []struct {
		Name    string           `json:"name"`
		Streams []streamInfoData `json:"stream_detail"`
	} `json:"account_details"`
}

// Streams lists the streams of domain in every account, each as its leader
// reports it (a follower's view of the replicas is not to be trusted:
// followers report every peer as not current). A stream some server holds
// whose leader did not answer (no leader, or the leader is unreachable) is
// in Missing.
func (m Monitor) Streams(ctx context.Context, domain string) (*StreamList, error) {
	// Keyed by account and name: two accounts may each have a stream of
	// one name, and they are two streams.
	type key struct{ account, name string }
	leaderView := map[key]StreamState{}
	seen := map[key]bool{}
	holders := map[key]map[string]bool{}
	answered := 0
	var last error
	for _, r := range m.fetchAll(ctx, domain, "/jsz?accounts=true&streams=true&config=true") {
		if r.err != nil {
			last = r.err
			continue
		}
		answered++
		var j jszStreams
		if err := json.Unmarshal(r.data, &j); err != nil {
			return nil, fmt.Errorf("list streams in domain %q: decode /jsz of %s: %w", domain, r.server, err)
		}
		for _, a := range j.Accounts {
			for _, d := range a.Streams {
				st, err := d.state(domain, m.names(domain))
				if err != nil {
					return nil, fmt.Errorf("list streams in domain %q: %s: %w", domain, r.server, err)
				}
				st.Account = a.Name
				k := key{a.Name, st.Name}
				seen[k] = true
				if holders[k] == nil {
					holders[k] = map[string]bool{}
				}
				holders[k][r.server] = true
				for _, p := range st.Peers() {
					holders[k][p] = true
				}
				// An R1 stream outside a cluster reports no cluster
				// information: the server holding it is its leader.
				if st.Leader == "" && d.Cluster == nil {
					st.Leader = r.server
				}
				if st.Leader == r.server {
					leaderView[k] = st
				}
			}
		}
	}
	if answered == 0 {
		return nil, fmt.Errorf("list streams in domain %q: no server's monitoring endpoint answered (last: %v)", domain, last)
	}
	accounts := map[string]bool{}
	for k := range seen {
		accounts[k.account] = true
	}
	out := &StreamList{Streams: []StreamState{}}
	for k := range seen {
		if st, ok := leaderView[k]; ok {
			out.Streams = append(out.Streams, st)
			continue
		}
		if out.Holders == nil {
			out.Holders = map[string][]string{}
		}
		out.Holders[StreamRef(k.account, k.name)] = slices.Sorted(maps.Keys(holders[k]))
		if len(accounts) > 1 {
			out.Missing = append(out.Missing, StreamRef(k.account, k.name))
		} else {
			out.Missing = append(out.Missing, k.name)
		}
	}
	sort.Slice(out.Streams, func(i, j int) bool {
		a, b := out.Streams[i], out.Streams[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Account < b.Account
	})
	sort.Strings(out.Missing)
	return out, nil
}

// CanRestart is Conn.CanRestart from the monitoring endpoints.
func (m Monitor) CanRestart(ctx context.Context, domain, server string) (warnings []string, err error) {
	return canLose(ctx, m, domain, server, true)
}

// MetaPeerCurrent returns nil when server is a current, online member of
// domain's meta group under a leader (one look; callers poll).
func (m Monitor) MetaPeerCurrent(ctx context.Context, domain, server string) error {
	g, err := m.Meta(ctx, domain)
	if err != nil {
		return err
	}
	return metaPeerPresent(g, domain, server)
}
