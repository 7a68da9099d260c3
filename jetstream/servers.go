package jetstream

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Server is what one live server reports about itself.
type Server struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Host    string `json:"host"`
	Cluster string `json:"cluster"`
	Domain  string `json:"domain"`
	Version string `json:"version"`

	Start       time.Time     `json:"start"`
	Uptime      time.Duration `json:"uptime"`
	Connections int           `json:"connections"`
	Mem         int64         `json:"mem"` // resident memory of the process, bytes
	Cores       int           `json:"cores"`
	CPU         float64       `json:"cpu"`

	// JetStream is false when the server runs without JetStream; the
	// fields below are then zero.
	JetStream     bool   `json:"jetstream"`
	MemoryStore   uint64 `json:"memory_store"` // bytes used by memory streams
	FileStore     uint64 `json:"file_store"`   // bytes used by file streams
	Streams       int    `json:"streams"`
	Consumers     int    `json:"consumers"`
	Messages      uint64 `json:"messages"`
	Bytes         uint64 `json:"bytes"`
	APIRequests   uint64 `json:"api_requests"`
	APIErrors     uint64 `json:"api_errors"`
	MetaLeader    string `json:"meta_leader,omitempty"` // as this server sees it
	MetaClusterSz int    `json:"meta_cluster_size,omitempty"`

	// CertNotAfter is the end of the server's TLS certificate (its client
	// port's); zero without TLS.
	CertNotAfter time.Time `json:"tls_cert_not_after,omitzero"`
}

// wire types: the subset of nats-server's varz and jsz replies we use.
type varzData struct {
	ID           string    `json:"server_id"`
	Name         string    `json:"server_name"`
	Version      string    `json:"version"`
	Start        time.Time `json:"start"`
	Now          time.Time `json:"now"`
	Mem          int64     `json:"mem"`
	Cores        int       `json:"cores"`
	CPU          float64   `json:"cpu"`
	Connections  int       `json:"connections"`
	CertNotAfter time.Time `json:"tls_cert_not_after"`
}

type jszData struct {
	ID       string `json:"server_id"`
	Disabled bool   `json:"disabled,omitempty"`
	Memory   uint64 `json:"memory"`
	Store    uint64 `json:"storage"`
	API      struct {
		Total  uint64 `json:"total"`
		Errors uint64 `json:"errors"`
	} `json:"api"`
	Streams   int       `json:"streams"`
	Consumers int       `json:"consumers"`
	Messages  uint64    `json:"messages"`
	Bytes     uint64    `json:"bytes"`
	Meta      *metaData `json:"meta_cluster,omitempty"`
}

type metaData struct {
	Name         string     `json:"name,omitempty"`
	Leader       string     `json:"leader,omitempty"`
	Replicas     []peerData `json:"replicas,omitempty"`
	Size         int        `json:"cluster_size"`
	QuorumNeeded int        `json:"quorum_needed"`
}

type peerData struct {
	Name    string        `json:"name"`
	Current bool          `json:"current"`
	Offline bool          `json:"offline,omitempty"`
	Active  time.Duration `json:"active"`
	Lag     uint64        `json:"lag,omitempty"`
	Peer    string        `json:"peer"`
}

// Servers asks every reachable server for its vitals (VARZ) and JetStream
// usage (JSZ), both within one request timeout. A server that does not answer
// in time is simply absent: compare with the inventory to find it. The result
// is sorted by domain, then name.
func (c *Conn) Servers(ctx context.Context) ([]Server, error) {
	type result struct {
		replies []serverReply
		err     error
	}
	varzc := make(chan result, 1)
	go func() {
		r, err := c.gather(ctx, "$SYS.REQ.SERVER.PING.VARZ", nil, nil)
		varzc <- result{r, err}
	}()
	jsz, jerr := c.gather(ctx, "$SYS.REQ.SERVER.PING.JSZ", nil, nil)
	varz := <-varzc
	if varz.err != nil {
		return nil, fmt.Errorf("list servers: %w", varz.err)
	}
	if jerr != nil {
		return nil, fmt.Errorf("list servers: %w", jerr)
	}

	byID := map[string]*Server{}
	get := func(si serverInfo) *Server {
		s, ok := byID[si.ID]
		if !ok {
			s = &Server{Name: si.Name, ID: si.ID, Host: si.Host, Cluster: si.Cluster, Domain: si.Domain, Version: si.Version}
			byID[si.ID] = s
		}
		return s
	}
	for _, r := range varz.replies {
		if r.Error != nil {
			continue
		}
		var v varzData
		if err := json.Unmarshal(r.Data, &v); err != nil {
			return nil, fmt.Errorf("decode varz of %s: %w", r.Server.Name, err)
		}
		s := get(r.Server)
		s.Start, s.Mem, s.Cores, s.CPU, s.Connections = v.Start, v.Mem, v.Cores, v.CPU, v.Connections
		s.CertNotAfter = v.CertNotAfter
		if !v.Start.IsZero() && !v.Now.IsZero() {
			s.Uptime = v.Now.Sub(v.Start).Round(time.Second)
		}
	}
	for _, r := range jsz {
		if r.Error != nil {
			// A server without JetStream answers JSZ with an error.
			get(r.Server)
			continue
		}
		var j jszData
		if err := json.Unmarshal(r.Data, &j); err != nil {
			return nil, fmt.Errorf("decode jsz of %s: %w", r.Server.Name, err)
		}
		s := get(r.Server)
		if j.Disabled {
			continue
		}
		s.JetStream = true
		s.MemoryStore, s.FileStore = j.Memory, j.Store
		s.Streams, s.Consumers, s.Messages, s.Bytes = j.Streams, j.Consumers, j.Messages, j.Bytes
		s.APIRequests, s.APIErrors = j.API.Total, j.API.Errors
		if j.Meta != nil {
			s.MetaLeader, s.MetaClusterSz = j.Meta.Leader, j.Meta.Size
		}
	}
	out := make([]Server, 0, len(byID))
	for _, s := range byID {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Domain != out[j].Domain {
			return out[i].Domain < out[j].Domain
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Leafnode is one leafnode connection as seen by one end of it.
type Leafnode struct {
	Remote  string `json:"remote"`  // server name at the other end
	Account string `json:"account"` // local account the connection is bound to
	IP      string `json:"ip"`
	Port    int    `json:"port"`
	RTT     string `json:"rtt,omitempty"`
	// Spoke is true on the server that solicited the connection (the leaf
	// cluster's side of the link), false on the hub side.
	Spoke bool `json:"spoke"`
}

// ServerLeafnodes are the leafnode connections of one server.
type ServerLeafnodes struct {
	Server  string     `json:"server"`
	Cluster string     `json:"cluster"`
	Domain  string     `json:"domain"`
	Leafs   []Leafnode `json:"leafs"`
}

type leafzData struct {
	Leafs []struct {
		Name    string `json:"name"`
		IsSpoke bool   `json:"is_spoke"`
		Account string `json:"account"`
		IP      string `json:"ip"`
		Port    int    `json:"port"`
		RTT     string `json:"rtt,omitempty"`
	} `json:"leafs"`
}

// Leafnodes lists the leafnode connections of every reachable server, sorted
// by server name. Servers with none are included with an empty list.
func (c *Conn) Leafnodes(ctx context.Context) ([]ServerLeafnodes, error) {
	replies, err := c.gather(ctx, "$SYS.REQ.SERVER.PING.LEAFZ", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("list leafnodes: %w", err)
	}
	out := make([]ServerLeafnodes, 0, len(replies))
	for _, r := range replies {
		if r.Error != nil {
			continue
		}
		var l leafzData
		if err := json.Unmarshal(r.Data, &l); err != nil {
			return nil, fmt.Errorf("decode leafz of %s: %w", r.Server.Name, err)
		}
		sl := ServerLeafnodes{Server: r.Server.Name, Cluster: r.Server.Cluster, Domain: r.Server.Domain, Leafs: []Leafnode{}}
		for _, lf := range l.Leafs {
			sl.Leafs = append(sl.Leafs, Leafnode{Remote: lf.Name, Account: lf.Account, IP: lf.IP, Port: lf.Port, RTT: lf.RTT, Spoke: lf.IsSpoke})
		}
		sort.Slice(sl.Leafs, func(i, j int) bool {
			if sl.Leafs[i].Account != sl.Leafs[j].Account {
				return sl.Leafs[i].Account < sl.Leafs[j].Account
			}
			return sl.Leafs[i].Remote < sl.Leafs[j].Remote
		})
		out = append(out, sl)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Server < out[j].Server })
	return out, nil
}
