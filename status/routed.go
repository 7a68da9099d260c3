package status

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
)

// A cluster's servers route to each other, and a server's /routez names
// the server behind each route (remote_name, remote_id) and the address it
// comes from. Two things only it shows: two servers of one name routed into
// the cluster (a node moved to another host while its old server ran on:
// one JetStream peer to the cluster, each acking writes the other does not
// have; on the lab status said healthy, and a leader restart lost acked
// messages), and a server the inventory does not list that is routed but
// not (yet) a meta peer (a node taken out whose server runs again: it
// rejoins the meta group 5 minutes after its peer-remove).

// RoutedServer is a server name routed into a cluster, with the addresses
// its routes come from.
type RoutedServer struct {
	Name      string   `json:"name"`
	Addresses []string `json:"addresses"`
	ids       int
}

// Routes is what one server of a cluster said of its routes.
type Routes struct {
	From     string         `json:"from"` // the server asked
	Twice    []RoutedServer `json:"routed_twice,omitempty"`
	Unlisted []RoutedServer `json:"routed_unlisted,omitempty"`
}

type routez struct {
	Routes []struct {
		RemoteName string `json:"remote_name"`
		RemoteID   string `json:"remote_id"`
		IP         string `json:"ip"`
	} `json:"routes"`
}

// judgeRoutes finds, in the /routez body of a server of cl, the names
// routed from more than one server, and the names cl does not list.
func judgeRoutes(cl *inventory.Cluster, from string, body []byte) (*Routes, error) {
	var rz routez
	if err := json.Unmarshal(body, &rz); err != nil {
		return nil, fmt.Errorf("%s /routez: %w", from, err)
	}
	ids := map[string]map[string]bool{}
	addrs := map[string][]string{}
	for _, r := range rz.Routes {
		if r.RemoteName == "" {
			continue
		}
		if ids[r.RemoteName] == nil {
			ids[r.RemoteName] = map[string]bool{}
		}
		ids[r.RemoteName][r.RemoteID] = true
		if !slices.Contains(addrs[r.RemoteName], r.IP) {
			addrs[r.RemoteName] = append(addrs[r.RemoteName], r.IP)
		}
	}
	out := &Routes{From: from}
	names := make([]string, 0, len(ids))
	for n := range ids {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rs := RoutedServer{Name: n, Addresses: addrs[n], ids: len(ids[n])}
		sort.Strings(rs.Addresses)
		if rs.ids > 1 {
			out.Twice = append(out.Twice, rs)
		}
		if !slices.ContainsFunc(cl.Nodes, func(x *inventory.Node) bool { return x.Name == n }) {
			out.Unlisted = append(out.Unlisted, rs)
		}
	}
	return out, nil
}

// collectRoutes asks, per cluster, the first of its active nodes that
// answers for its /routez (every server routes to every other, so one
// suffices): one request per cluster.
func collectRoutes(ctx context.Context, s *provision.Session, clusters []*inventory.Cluster) map[string]*Routes {
	out := map[string]*Routes{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	get := s.Monitor().Get
	for _, cl := range clusters {
		wg.Go(func() {
			for _, n := range cl.Active() {
				body, err := get(ctx, n.Name, "/routez")
				if err != nil {
					continue
				}
				r, err := judgeRoutes(cl, n.Name, body)
				if err != nil {
					continue
				}
				mu.Lock()
				out[cl.Name] = r
				mu.Unlock()
				return
			}
		})
	}
	wg.Wait()
	return out
}

// routeWarnings says what a cluster's routes show that nothing else does.
// A name the inventory does not list that is a meta peer already has its
// warning (memberWarnings).
func routeWarnings(inv *inventory.Inventory, d *Domain, add func(level, domain, format string, a ...any)) {
	r := d.Routes
	if r == nil {
		return
	}
	for _, t := range r.Twice {
		at := ""
		if n := inv.Node(t.Name); n != nil {
			at = fmt.Sprintf("; the inventory puts %s on %s: stop the other one on its host (`systemctl disable --now %s`)", t.Name, n.Host, inv.NATS.Service)
		}
		add(LevelDegraded, d.Name, "%d servers named %s are routed into cluster %s (from %s, as %s's /routez says): one JetStream peer to the cluster, each acknowledging writes the other does not have, which a leader change loses%s; see \"Moving a node to another host\" in docs/runbooks.md",
			t.ids, t.Name, d.Cluster, strings.Join(t.Addresses, " and "), r.From, at)
	}
	var loose []string
	for _, u := range r.Unlisted {
		if !containsPeer(d.Meta, u.Name) {
			loose = append(loose, fmt.Sprintf("%s (from %s)", u.Name, strings.Join(u.Addresses, ", ")))
		}
	}
	if len(loose) > 0 {
		add(LevelDegraded, d.Name, "servers %s does not list in cluster %s are routed into it (as %s's /routez says): %s. Not meta peers now, they rejoin the meta group 5 minutes after a peer-remove, as peers too many: stop each on its host (`systemctl disable --now %s`), or add it to the inventory",
			inv.File, d.Cluster, r.From, strings.Join(loose, ", "), inv.NATS.Service)
	}
}
