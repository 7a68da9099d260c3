package status_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
	"github.com/dcctl/dcctl/status"
)

// testNATSTimeout bounds each NATS request of the code under test: above
// production's 3 s, since in-process servers on a machine loaded by other
// test runs answer JetStream API requests slower than real hosts do.
const testNATSTimeout = 5 * time.Second

// session reaches the embedded servers straight (they listen on 127.0.0.1);
// units are not asked, since there is no systemd behind testcluster (the
// lab's e2e test covers that side).
func session(t *testing.T, c *testcluster.Cluster) *provision.Session {
	t.Helper()
	s := provision.NewSession(c.Inv, c.Secrets, provision.SessionOptions{Direct: true, NATSTimeout: testNATSTimeout})
	t.Cleanup(func() { s.Close() })
	return s
}

func collect(t *testing.T, s *provision.Session, domain string) *status.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := status.Collect(ctx, s, status.Options{Domain: domain, Routes: true})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitReport collects until ok accepts the report or the deadline passes.
// settle bounds how long a report may take to show what a test expects: a
// deadline, not a wait. Seconds on a quiet machine; on one loaded by other
// test runs, elections and leaf links of in-process servers took minutes.
const settle = 90 * time.Second

func waitReport(t *testing.T, s *provision.Session, timeout time.Duration, ok func(*status.Report) error) *status.Report {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := collect(t, s, "")
		err := ok(r)
		if err == nil {
			return r
		}
		if time.Now().After(deadline) {
			var b bytes.Buffer
			r.Write(&b)
			t.Fatalf("after %s: %v\n%s", timeout, err, b.String())
		}
	}
}

func domain(r *status.Report, name string) *status.Domain {
	for _, d := range r.Domains {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func healthy(r *status.Report) error {
	if r.Healthy {
		return nil
	}
	var ws []string
	for _, w := range r.Warnings {
		ws = append(ws, w.Level+": "+w.Message)
	}
	return fmt.Errorf("not healthy: %s", strings.Join(ws, "; "))
}

func TestAllUp(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec testcluster.Spec
	}{{"seed", testcluster.Seed()}, {"other", testcluster.Other()}} {
		t.Run(tc.name, func(t *testing.T) {
			c := testcluster.Start(t, testcluster.WriteInventory(t, tc.spec))
			hub := tc.spec.Clusters[0]
			js := c.JetStream(t, hub.Domain)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			testcluster.CreateStream(t, js, njs.StreamConfig{Name: "orders", Subjects: []string{"orders.>"}, Replicas: 3}, testwait.Converge)
			testcluster.Publish(t, js, "orders", 5)
			s := session(t, c)
			r := waitReport(t, s, settle, healthy)

			if len(r.Domains) != len(tc.spec.Clusters) {
				t.Fatalf("%d domains, want %d", len(r.Domains), len(tc.spec.Clusters))
			}
			for _, cs := range tc.spec.Clusters {
				d := domain(r, cs.Domain)
				if d == nil {
					t.Fatalf("domain %s missing", cs.Domain)
				}
				if want := c.MetaLeader(cs.Domain); d.MetaLeader == "" || d.MetaLeader != want {
					t.Errorf("domain %s: meta leader %q, servers say %q", cs.Domain, d.MetaLeader, want)
				}
				if d.ClusterSize != len(cs.Nodes) || len(d.Meta) != len(cs.Nodes) {
					t.Errorf("domain %s: size %d, %d meta peers, want %d", cs.Domain, d.ClusterSize, len(d.Meta), len(cs.Nodes))
				}
				for _, p := range d.Meta {
					// The ID column must be the server's own RAFT peer id.
					if want := c.Server(p.Name).Node(); p.ID != want {
						t.Errorf("%s: peer id %s, server says %s", p.Name, p.ID, want)
					}
					if !p.Online || !p.Current {
						t.Errorf("%s: %+v", p.Name, p)
					}
				}
				for _, sv := range d.Servers {
					if sv.NATS != nil && sv.NATS.CertNotAfter.Before(r.Time) {
						t.Errorf("%s: TLS certificate end %v, want a certificate valid now", sv.Name, sv.NATS.CertNotAfter)
					}
					if !sv.Online || sv.NATS == nil || sv.NATS.Connections < 0 {
						t.Errorf("server %s not online: %+v", sv.Name, sv)
					}
				}
				if cs.LeafOf != "" {
					// One link per account to the hub from every server.
					if len(d.Leafnodes) != 2*len(cs.Nodes) {
						t.Errorf("domain %s: leafnode links %+v", cs.Domain, d.Leafnodes)
					}
					for _, l := range d.Leafnodes {
						if l.Hub == "" {
							t.Errorf("domain %s: missing link %+v", cs.Domain, l)
						}
					}
				}
			}
			hd := domain(r, hub.Domain)
			if len(hd.Streams) != 1 {
				t.Fatalf("hub streams: %+v", hd.Streams)
			}
			st := hd.Streams[0]
			info, err := js.Stream(ctx, "orders")
			if err != nil {
				t.Fatal(err)
			}
			if st.Name != "orders" || st.Replicas != 3 || len(st.Peers) != 3 || st.Messages != 5 || st.Leader != info.CachedInfo().Cluster.Leader {
				t.Errorf("stream %+v, server says leader %s", st, info.CachedInfo().Cluster.Leader)
			}

			var text bytes.Buffer
			r.Write(&text)
			out := text.String()
			t.Logf("report:\n%s", out)
			for _, want := range []string{"JetStream Summary", "RAFT Meta Group Information", "│ " + hd.MetaLeader + "*", "orders", ": healthy"} {
				if !strings.Contains(out, want) {
					t.Errorf("text lacks %q", want)
				}
			}
			// The JSON carries every domain's name and meta leader (docs/status.md).
			data, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Healthy bool `json:"healthy"`
				Domains []struct {
					Name       string `json:"name"`
					MetaLeader string `json:"meta_leader"`
				} `json:"domains"`
			}
			if err := json.Unmarshal(data, &doc); err != nil || !doc.Healthy || len(doc.Domains) != len(tc.spec.Clusters) {
				t.Fatalf("json: %v %+v", err, doc)
			}
			for _, d := range doc.Domains {
				if d.MetaLeader != c.MetaLeader(d.Name) {
					t.Errorf("json domain %s: meta leader %q", d.Name, d.MetaLeader)
				}
			}
			if s.Secrets != nil {
				for _, pw := range s.Secrets.Values() {
					if strings.Contains(out, pw) || strings.Contains(string(data), pw) {
						t.Error("a password is in the report")
					}
				}
			}
		})
	}
}

// TestLeadersKilled is the drill where the node leading both the stream
// and the meta group dies; the report shows it offline and the new leaders.
func TestLeadersKilled(t *testing.T) {
	c := testcluster.Start(t, testcluster.WriteInventory(t, testcluster.Seed()))
	js := c.JetStream(t, "hub")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	testcluster.CreateStream(t, js, njs.StreamConfig{Name: "foo", Subjects: []string{"foo.>"}, Replicas: 3, Storage: njs.MemoryStorage}, testwait.Converge)
	s := session(t, c)
	nc, err := s.NATS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// With 4 backbone nodes, killing two distinct leaders would lose the meta
	// quorum: move the meta leadership to the stream leader first, so that
	// one node leads both, as in the drill.
	var victim string
	waitReport(t, s, settle, func(r *status.Report) error {
		d := domain(r, "hub")
		if len(d.Streams) != 1 || d.Streams[0].Problem != "" {
			return fmt.Errorf("stream foo not whole yet: %+v", d.Streams)
		}
		victim = d.Streams[0].Leader
		if d.MetaLeader == victim {
			return nil
		}
		if err := nc.MetaStepDown(ctx, "hub", victim); err != nil {
			t.Logf("meta step-down: %v", err)
		}
		return fmt.Errorf("meta leader %s, stream leader %s", d.MetaLeader, victim)
	})
	testcluster.Publish(t, js, "foo", 6)

	c.Stop(victim)
	began := time.Now()
	r := waitReport(t, s, settle, func(r *status.Report) error {
		d := domain(r, "hub")
		if d.MetaLeader == "" || d.MetaLeader == victim {
			return fmt.Errorf("meta leader %q", d.MetaLeader)
		}
		if len(d.Streams) != 1 || d.Streams[0].Leader == "" || d.Streams[0].Leader == victim {
			return fmt.Errorf("streams %+v missing %v", d.Streams, d.MissingStreams)
		}
		// Leaf servers whose leafnode link went to the victim answer again
		// once they have linked to another hub node; until then they are
		// rightly in doubt.
		for _, ld := range r.Domains {
			for _, sv := range ld.Servers {
				if sv.Name != victim && !sv.Online {
					return fmt.Errorf("server %s does not answer yet", sv.Name)
				}
			}
		}
		return nil
	})
	t.Logf("new leaders reported %s after the kill", time.Since(began).Round(time.Millisecond))
	d := domain(r, "hub")
	if want := c.MetaLeader("hub"); d.MetaLeader != want {
		t.Errorf("meta leader %s, servers say %s", d.MetaLeader, want)
	}
	info, err := js.Stream(ctx, "foo")
	if err != nil {
		t.Fatal(err)
	}
	st := d.Streams[0]
	if st.Leader != info.CachedInfo().Cluster.Leader || st.Messages != 6 {
		t.Errorf("stream %+v; server says leader %s", st, info.CachedInfo().Cluster.Leader)
	}
	for _, p := range st.Peers {
		if p.Name == victim && (p.Online || p.Leader) {
			t.Errorf("killed replica shown as %+v", p)
		}
	}
	for _, p := range d.Meta {
		if p.Name == victim && p.Online {
			t.Errorf("killed meta peer shown online: %+v", p)
		}
	}
	for _, sv := range d.Servers {
		if sv.Name == victim && sv.Online {
			t.Errorf("killed server shown online")
		}
	}
	if r.Healthy {
		t.Error("report healthy with a node down")
	}
	var text bytes.Buffer
	r.Write(&text)
	out := text.String()
	t.Logf("report:\n%s", out)
	for _, want := range []string{"server " + victim, "create only R1 consumers", d.MetaLeader + "*", "OFFLINE", "DEGRADED"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	// One hub node down puts no leaf domain in doubt: no notice that one
	// "keeps working whatever its links" (it read like a partition).
	for _, w := range r.Warnings {
		if strings.Contains(w.Message, "is whole in DC") {
			t.Errorf("notice with one hub node down: %s", w.Message)
		}
	}
}

// TestQuorumLost: half the backbone down leaves no meta leader; the report
// says so clearly, promptly, and is unhealthy (exit 1 in the CLI).
func TestQuorumLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec testcluster.Spec
		down int
	}{{"seed 2 of 4", testcluster.Seed(), 2}, {"other 3 of 5", testcluster.Other(), 3}} {
		t.Run(tc.name, func(t *testing.T) {
			c := testcluster.Start(t, testcluster.WriteInventory(t, tc.spec))
			hub := tc.spec.Clusters[0]
			var stopped []string
			for _, n := range hub.Nodes[:tc.down] {
				c.Stop(n.Name)
				stopped = append(stopped, n.Name)
			}
			s := session(t, c)
			var took time.Duration
			r := waitReport(t, s, settle, func(r *status.Report) error {
				took = time.Duration(r.Seconds * float64(time.Second))
				if d := domain(r, hub.Domain); d.MetaLeader != "" {
					return fmt.Errorf("meta leader %s still reported", d.MetaLeader)
				}
				// Leaf servers whose links went to the stopped hub nodes
				// reconnect to the others within seconds (their own DC's hub
				// nodes first); until then the system account cannot reach
				// them through the hub, and the report rightly reads the
				// silence as a cut between DCs, not as a lost quorum.
				for _, cs := range tc.spec.Clusters[1:] {
					if od := domain(r, cs.Domain); od.MetaLeader == "" || od.Responded != len(cs.Nodes) {
						return fmt.Errorf("domain %s: meta leader %q, %d responded", cs.Domain, od.MetaLeader, od.Responded)
					}
				}
				for _, dc := range r.DCs {
					for _, n := range dc.NATSSilent {
						if !slices.Contains(stopped, n) {
							return fmt.Errorf("DC %s: %s, which runs, does not answer over NATS yet", dc.Name, n)
						}
					}
				}
				return nil
			})
			t.Logf("report with %d of %d backbone nodes down took %s", tc.down, len(hub.Nodes), took.Round(time.Millisecond))
			if r.Healthy {
				t.Error("healthy without a meta leader")
			}
			d := domain(r, hub.Domain)
			var warned bool
			for _, w := range r.Warnings {
				if w.Level == status.LevelDegraded && strings.Contains(w.Message, "no meta leader") && strings.Contains(w.Message, "quorum lost") {
					warned = true
				}
			}
			if !warned {
				t.Errorf("no quorum warning: %+v", r.Warnings)
			}
			for _, p := range d.Meta {
				down := false
				for _, n := range stopped {
					down = down || p.Name == n
				}
				if p.Online == down {
					t.Errorf("meta peer %+v, stopped %v", p, stopped)
				}
			}
			var text bytes.Buffer
			r.Write(&text)
			t.Logf("report:\n%s", text.String())
			if !strings.Contains(text.String(), "meta leader NONE") {
				t.Error("text does not say there is no meta leader")
			}
		})
	}
}

func TestUnknownDomain(t *testing.T) {
	inv, err := inventory.Load(testcluster.WriteInventory(t, testcluster.Seed()))
	if err != nil {
		t.Fatal(err)
	}
	s := provision.NewSession(inv, nil, provision.SessionOptions{Direct: true})
	_, err = status.Collect(context.Background(), s, status.Options{Domain: "nowhere"})
	if err == nil || !strings.Contains(err.Error(), `"nowhere"`) {
		t.Fatalf("err %v", err)
	}
}

// TestReplicasByDC: every server carries dc:<dc> (JetStream places by it);
// status counts each stream's replicas per DC and notes a stream whose
// every replica is in one DC of a cluster that spans two.
func TestReplicasByDC(t *testing.T) {
	spec := testcluster.Other() // 3 backbone nodes in one DC, 2 in the other
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	hub := spec.Clusters[0]
	near, far := hub.Nodes[0].DC, hub.Nodes[len(hub.Nodes)-1].DC
	js := c.JetStream(t, hub.Domain)
	for _, sc := range []njs.StreamConfig{
		{Name: "one_dc", Subjects: []string{"one.>"}, Replicas: 3, Placement: &njs.Placement{Tags: []string{"dc:" + near}}},
		{Name: "far_dc", Subjects: []string{"far.>"}, Replicas: 2, Placement: &njs.Placement{Tags: []string{"dc:" + far}}},
		{Name: "untagged", Subjects: []string{"untagged.>"}, Replicas: 1},
	} {
		testcluster.CreateStream(t, js, sc, testwait.Converge)
	}
	s := session(t, c)
	r := waitReport(t, s, settle, healthy)
	d := domain(r, hub.Domain)
	want := map[string]string{"one_dc": fmt.Sprintf("%s:3", near), "far_dc": fmt.Sprintf("%s:2", far)}
	for _, st := range d.Streams {
		if st.Name == "untagged" {
			continue // R1: in whichever DC its server is
		}
		got := ""
		for dc, n := range st.ReplicasByDC {
			got += fmt.Sprintf("%s:%d", dc, n)
		}
		if got != want[st.Name] {
			t.Errorf("stream %s replicas by DC %v, want %s", st.Name, st.ReplicasByDC, want[st.Name])
		}
	}
	for name, dc := range map[string]string{"one_dc": near, "far_dc": far} {
		found := false
		for _, w := range r.Warnings {
			found = found || (w.Level == status.LevelNotice && strings.Contains(w.Message, "every replica of stream "+name) && strings.Contains(w.Message, "data center "+dc))
		}
		if !found {
			t.Errorf("no notice that every replica of %s is in %s: %+v", name, dc, r.Warnings)
		}
	}
	// A stream kept in one DC by its placement tag was placed so on purpose:
	// the notice says so and gives no advice to place it with --tag; one
	// without tags is told how to spread it.
	for _, w := range r.Warnings {
		for _, name := range []string{"one_dc", "far_dc", "untagged"} {
			if !strings.Contains(w.Message, "every replica of stream "+name+" ") {
				continue
			}
			placed := strings.Contains(w.Message, "as its placement tag dc:")
			advice := strings.Contains(w.Message, "place it on purpose with --tag")
			if tagged := name != "untagged"; placed != tagged || advice == tagged {
				t.Errorf("notice for %s (placement tags: %v): %s", name, tagged, w.Message)
			}
		}
	}
	// --from-dc: the NATS view is taken from the given side.
	for _, dc := range []string{near, far} {
		fs := provision.NewSession(c.Inv, c.Secrets, provision.SessionOptions{Direct: true, NATSTimeout: testNATSTimeout, PreferDC: dc})
		fr := collect(t, fs, "")
		fs.Close()
		if fr.NATSViaDC != dc || c.Inv.Node(fr.NATSVia).DC != dc {
			t.Errorf("PreferDC %s: NATS through %s in %s", dc, fr.NATSVia, fr.NATSViaDC)
		}
	}
	var text bytes.Buffer
	r.Write(&text)
	if !strings.Contains(text.String(), near+":3") {
		t.Errorf("the streams table does not show replicas per DC:\n%s", text.String())
	}
}

// TestDCCutOff: every server of one DC silent (here: stopped, as a cut
// looks from the other side). Status says per DC what it reaches, that the
// cause may be a partition, and each domain as each DC's servers see it;
// the DC's servers are not listed one by one as dead. A 5-node backbone,
// 3 + 2 across DCs, and a leaf cluster in each DC.
func TestDCCutOff(t *testing.T) {
	spec := testcluster.Other()
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	hub := spec.Clusters[0]
	near, far := hub.Nodes[0].DC, hub.Nodes[len(hub.Nodes)-1].DC
	for _, cl := range spec.Clusters {
		for _, n := range cl.Nodes {
			if n.DC == far {
				c.Stop(n.Name)
			}
		}
	}
	c.WaitMetaLeader(hub.Domain, testwait.Converge)
	s := session(t, c)
	r := waitReport(t, s, settle, func(r *status.Report) error {
		if d := domain(r, hub.Domain); d.MetaLeader == "" {
			return fmt.Errorf("no hub meta leader yet")
		}
		return nil
	})
	var text bytes.Buffer
	r.Write(&text)
	t.Logf("report:\n%s", text.String())
	if r.Healthy {
		t.Fatal("healthy with a DC cut off")
	}
	var farDC, nearDC *status.DC
	for i := range r.DCs {
		switch r.DCs[i].Name {
		case far:
			farDC = &r.DCs[i]
		case near:
			nearDC = &r.DCs[i]
		}
	}
	// The near DC's leaf servers whose links went to the stopped hub nodes
	// may not answer yet: the near DC is reached, perhaps partly.
	if farDC == nil || nearDC == nil || !farDC.Cut || nearDC.Cut || farDC.NATSAnswered != 0 || nearDC.NATSAnswered == 0 {
		t.Fatalf("per-DC summary %+v", r.DCs)
	}
	var dcWarn int
	for _, w := range r.Warnings {
		if strings.HasPrefix(w.Message, "DC "+far+":") && strings.Contains(w.Message, "partition") {
			dcWarn++
		}
		for _, n := range hub.Nodes {
			if n.DC == far && strings.Contains(w.Message, "server "+n.Name+" ") {
				t.Errorf("a server of the cut DC is warned about one by one: %s", w.Message)
			}
		}
	}
	if dcWarn != 1 {
		t.Errorf("%d warnings say DC %s may be partitioned, want 1: %+v", dcWarn, far, r.Warnings)
	}
	hd := domain(r, hub.Domain)
	if len(hd.Views) != 2 {
		t.Fatalf("hub views per DC: %+v", hd.Views)
	}
	for _, v := range hd.Views {
		if v.DC == near && (v.MetaLeader == "" || v.HealthyPeers != 3 || v.Quorum != 3) {
			t.Errorf("hub as seen from %s: %+v", near, v)
		}
		if v.DC == far && (v.MetaLeader != "" || len(v.Answered) != 0) {
			t.Errorf("hub as seen from %s: %+v", far, v)
		}
	}
	if !strings.Contains(text.String(), "CUT OFF") || !strings.Contains(text.String(), "as seen from DC "+near) {
		t.Errorf("the text does not show the cut DC and the hub per side")
	}
	// The JSON keeps its keys and adds the new ones.
	data, _ := json.Marshal(r)
	for _, k := range []string{`"domains"`, `"warnings"`, `"healthy"`, `"dcs"`, `"views"`, `"nats_via"`} {
		if !strings.Contains(string(data), k) {
			t.Errorf("json lacks %s", k)
		}
	}
}
