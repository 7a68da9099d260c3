package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/dcctl/dcctl/inventory"
)

// The monitoring stand-in: the one part of a host the simulation fakes
// rather than runs, because what answers there on a real host is a
// nats-server in a cluster, and 1000 of them do not fit on this machine. A
// simulated node "runs" while its unit is active (the systemctl stand-in's
// state in its tree). Its answers model a cluster whose elections are
// instant: a domain has a meta leader while a majority of its nodes run
// (the first of them by name), every running member is a current peer, a
// leaf node has a link per leafnode remote while its hub has a leader, and
// there are no streams. provision's waits for a fresh install read exactly
// these: /healthz, /jsz (the meta group) and /leafz.

// fleet is what every simulated host knows of the others: the inventory,
// and where each node's tree is.
type fleet struct {
	inv   *inventory.Inventory
	roots map[string]string // node name -> tree
	unit  string            // the unit's file name
}

// running reports whether node's unit is active on its host.
func (f *fleet) running(node string) bool {
	_, err := os.Stat(filepath.Join(f.roots[node], "var/lib/sim-systemd", f.unit+".active"))
	return err == nil
}

// leader is the meta leader of domain, "" without a majority running.
func (f *fleet) leader(domain string) (leader string, members []*inventory.Node) {
	cl := f.inv.ClusterByDomain(domain)
	if cl == nil {
		return "", nil
	}
	up := 0
	for _, n := range cl.Nodes {
		if f.running(n.Name) {
			if leader == "" {
				leader = n.Name
			}
			up++
		}
	}
	if up*2 <= len(cl.Nodes) {
		return "", cl.Nodes
	}
	return leader, cl.Nodes
}

// nodeMonitor is one node's monitoring port.
type nodeMonitor struct {
	f    *fleet
	node *inventory.Node
}

// listens reports whether a dial to port on the node's host would connect.
func (m *nodeMonitor) listens(port int) bool {
	return port == m.node.Ports.HTTP && m.f.running(m.node.Name)
}

func (m *nodeMonitor) answer(req *http.Request) *http.Response {
	domain := m.f.inv.Domain(m.node)
	leader, members := m.f.leader(domain)
	switch req.URL.Path {
	case "/healthz":
		if leader == "" {
			return reply(req, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "JetStream has no meta leader"})
		}
		return reply(req, http.StatusOK, map[string]string{"status": "ok"})
	case "/jsz":
		type peer struct {
			Name    string `json:"name"`
			Current bool   `json:"current"`
			Offline bool   `json:"offline,omitempty"`
		}
		meta := map[string]any{"name": m.node.Cluster, "cluster_size": len(members), "quorum_needed": len(members)/2 + 1}
		if leader != "" {
			meta["leader"] = leader
			var replicas []peer
			for _, n := range members {
				if n.Name != leader {
					up := m.f.running(n.Name)
					replicas = append(replicas, peer{Name: n.Name, Current: up, Offline: !up})
				}
			}
			meta["replicas"] = replicas
		}
		return reply(req, http.StatusOK, map[string]any{"server_id": m.node.Name, "meta_cluster": meta, "account_details": []any{}})
	case "/leafz":
		type leaf struct {
			Account string `json:"account"`
			IsSpoke bool   `json:"is_spoke"`
		}
		leafs := []leaf{}
		if cl := m.f.inv.ClusterOf(m.node); cl != nil && cl.LeafOf != "" {
			if hub := m.f.inv.Cluster(cl.LeafOf); hub != nil {
				if l, _ := m.f.leader(hub.Domain); l != "" {
					for _, r := range m.f.inv.LeafRemotes(m.node) {
						leafs = append(leafs, leaf{Account: r.Account, IsSpoke: true})
					}
				}
			}
		}
		return reply(req, http.StatusOK, map[string]any{"server_id": m.node.Name, "leafs": leafs})
	}
	return reply(req, http.StatusNotFound, map[string]string{"error": "not simulated"})
}

func reply(req *http.Request, code int, body any) *http.Response {
	b, _ := json.Marshal(body)
	return &http.Response{StatusCode: code, Status: strconv.Itoa(code) + " " + http.StatusText(code),
		ProtoMajor: 1, ProtoMinor: 1, Request: req, Close: true,
		Header:        http.Header{"Content-Type": {"application/json"}},
		ContentLength: int64(len(b)), Body: io.NopCloser(bytes.NewReader(b))}
}
