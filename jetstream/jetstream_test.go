package jetstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
)

// spec is the example's backbone (4 nodes, domain hub) and one leaf cluster
// (3 nodes, domain us): enough for every behaviour here, and the second
// leaf cluster of the example would only slow the test down.
func spec() testcluster.Spec {
	return testcluster.Spec{
		AppAccount: "ACC1", AppUser: "acc1", SysAccount: "SYS", SysUser: "admin",
		Clusters: []testcluster.ClusterSpec{
			{Name: "BB", Domain: "hub", Nodes: []testcluster.NodeSpec{{Name: "bb_emea_1", DC: "emea"}, {Name: "bb_emea_2", DC: "emea"}, {Name: "bb_us_1", DC: "us"}, {Name: "bb_us_2", DC: "us"}}},
			{Name: "US", Domain: "us", LeafOf: "BB", Nodes: []testcluster.NodeSpec{{Name: "us_1", DC: "us"}, {Name: "us_2", DC: "us"}, {Name: "us_3", DC: "us"}}},
		},
	}
}

var hubNodes = []string{"bb_emea_1", "bb_emea_2", "bb_us_1", "bb_us_2"}

type env struct {
	t  *testing.T
	cl *testcluster.Cluster
	c  *Conn
}

func (e *env) urls(cluster string) []string {
	var out []string
	for _, n := range e.cl.Inv.Nodes {
		if cluster == "" || n.Cluster == cluster {
			out = append(out, n.ClientURL())
		}
	}
	return out
}

// testTimeout is the request timeout of the test's connections.
const testTimeout = 5 * time.Second

func (e *env) connect(urls []string) *Conn {
	e.t.Helper()
	return e.connectWith(urls, nil)
}

// connectWith is connect with the options changed by set (nil: none).
func (e *env) connectWith(urls []string, set func(*Options)) *Conn {
	e.t.Helper()
	su, sp := e.cl.SysUser()
	au, ap := e.cl.AppUser()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o := Options{URLs: urls, System: Credentials{User: su, Password: sp}, Accounts: []AccountUser{{Account: e.cl.Inv.JetStreamAccounts()[0].Name, Credentials: Credentials{User: au, Password: ap}}}, Timeout: testTimeout, Name: "jetstream-test", TLS: e.cl.TLSConfig()}
	if set != nil {
		set(&o)
	}
	c, err := Connect(ctx, o)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(c.Close)
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// newEnv starts the spec's deployment (7 servers) and connects to all of it.
func newEnv(t *testing.T) (*env, njs.JetStream) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts 7 nats-servers")
	}
	e := &env{t: t, cl: testcluster.Start(t, testcluster.WriteInventory(t, spec()))}
	e.c = e.connect(e.urls(""))
	return e, e.cl.JetStream(t, "hub")
}

// stream creates a file stream named name (subjects name.>) in the
// JetStream of js and publishes n messages to it.
func stream(t *testing.T, js njs.JetStream, name string, replicas, n int) {
	t.Helper()
	testcluster.CreateStream(t, js, njs.StreamConfig{Name: name, Subjects: []string{name + ".>"}, Replicas: replicas, Storage: njs.FileStorage}, testwait.Converge)
	testcluster.Publish(t, js, name, n)
}

// TestHealthyDeployment: what dcctl reads and does on a whole deployment.
// The cluster is shared because forming it costs seconds; each subtest uses
// streams of its own, so any of them runs alone (-run 'TestHealthyDeployment/snapshot').
func TestHealthyDeployment(t *testing.T) {
	e, hub := newEnv(t)

	t.Run("servers and leafnodes", func(t *testing.T) {
		var names []string
		testwait.Eventually(t, testwait.Converge, "all servers answer", func() error {
			srv, err := e.c.Servers(ctxT(t, 5*time.Second))
			if err != nil {
				return err
			}
			names = names[:0]
			for _, s := range srv {
				names = append(names, s.Name)
				if !s.JetStream || s.Version == "" || s.Uptime <= 0 || s.Connections < 0 || s.Mem <= 0 {
					return fmt.Errorf("incomplete report for %s: %+v", s.Name, s)
				}
			}
			if len(srv) != 7 {
				return fmt.Errorf("%d servers answered: %v", len(srv), names)
			}
			return nil
		})
		want := []string{"bb_emea_1", "bb_emea_2", "bb_us_1", "bb_us_2", "us_1", "us_2", "us_3"}
		if !slices.Equal(names, want) {
			t.Fatalf("servers = %v, want %v (sorted by domain, then name)", names, want)
		}

		testwait.Eventually(t, testwait.Converge, "every leaf server linked for ACC1 and SYS", func() error {
			ls, err := e.c.Leafnodes(ctxT(t, 5*time.Second))
			if err != nil {
				return err
			}
			hubSide := 0
			for _, l := range ls {
				if l.Domain != "us" {
					for _, lf := range l.Leafs {
						if lf.Spoke || !strings.HasPrefix(lf.Remote, "us_") {
							return fmt.Errorf("%s: hub-side leaf %+v", l.Server, lf)
						}
						hubSide++
					}
					continue
				}
				var accts []string
				for _, lf := range l.Leafs {
					if !strings.HasPrefix(lf.Remote, "bb_") {
						return fmt.Errorf("%s: leaf link to %q, want a backbone server", l.Server, lf.Remote)
					}
					if !lf.Spoke {
						return fmt.Errorf("%s: leaf-side link not marked spoke: %+v", l.Server, lf)
					}
					accts = append(accts, lf.Account)
				}
				if !slices.Equal(accts, []string{"ACC1", "SYS"}) {
					return fmt.Errorf("%s: leaf accounts %v, want [ACC1 SYS]", l.Server, accts)
				}
			}
			if hubSide != 6 {
				return fmt.Errorf("hub side sees %d leaf links, want 6 (3 servers x 2 accounts)", hubSide)
			}
			return nil
		})
	})

	t.Run("bad password: clear error without the password", func(t *testing.T) {
		su, _ := e.cl.SysUser()
		const secret = "not-the-password-4711"
		urls := append([]string{"nats://user:" + secret + "@127.0.0.1:1"}, e.urls("BB")...)
		_, err := Connect(ctxT(t, 10*time.Second), Options{URLs: urls, System: Credentials{User: su, Password: secret}, Timeout: time.Second, TLS: e.cl.TLSConfig()})
		if err == nil {
			t.Fatal("connected with a wrong password")
		}
		if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "as "+su) {
			t.Fatalf("error %q: want the user named and the password absent", err)
		}
	})

	t.Run("meta leader per domain", func(t *testing.T) {
		for _, d := range []struct {
			domain  string
			size    int
			cluster string
		}{{"hub", 4, "BB"}, {"us", 3, "US"}} {
			testwait.Eventually(t, testwait.Converge, d.domain+" meta group whole", func() error {
				m, err := e.c.Meta(ctxT(t, 5*time.Second), d.domain)
				if err != nil {
					return err
				}
				if want := e.cl.MetaLeader(d.domain); m.Leader != want {
					return fmt.Errorf("leader %q, servers say %q", m.Leader, want)
				}
				if m.Size != d.size || m.Quorum != d.size/2+1 || m.Cluster != d.cluster || len(m.Peers) != d.size {
					return fmt.Errorf("meta %+v, want size %d quorum %d cluster %s", m, d.size, d.size/2+1, d.cluster)
				}
				for _, p := range m.Peers {
					if !p.Healthy() {
						return fmt.Errorf("peer %s", p.describe())
					}
				}
				return nil
			})
		}
		// All members answering ends the gather, not its timeout or the
		// quiet gap: with both an hour long, a gather that waited for
		// either would run into the caller's deadline and Meta would fail
		// with it.
		patient := e.connectWith(e.urls(""), func(o *Options) { o.Timeout, o.Gap = time.Hour, time.Hour })
		for _, d := range []struct {
			domain string
			size   int
		}{{"hub", 4}, {"us", 3}} {
			m, err := patient.Meta(ctxT(t, time.Minute), d.domain)
			if err != nil {
				t.Fatalf("Meta(%s) with every server up did not end when all members answered: %v", d.domain, err)
			}
			if len(m.Responded) != d.size {
				t.Fatalf("Meta(%s): %v answered, want %d", d.domain, m.Responded, d.size)
			}
		}
	})

	t.Run("digest with gaps", func(t *testing.T) {
		ctx := ctxT(t, 30*time.Second)
		stream(t, hub, "gaps", 3, 100)
		s, err := hub.Stream(ctx, "gaps")
		if err != nil {
			t.Fatal(err)
		}
		for _, seq := range []uint64{1, 10, 50, 100} {
			if err := s.DeleteMsg(ctx, seq); err != nil {
				t.Fatal(err)
			}
		}
		b1, err := e.c.Digest(ctx, "hub", "gaps")
		if err != nil {
			t.Fatal(err)
		}
		if b1.Msgs != 96 || b1.FirstSeq != 2 || b1.LastSeq != 100 || b1.NumSubjects != 7 || len(b1.Digest) != 64 {
			t.Fatalf("baseline %+v, want 96 messages, seq 2..100, 7 subjects", b1)
		}
		b2, err := e.c.Digest(ctx, "hub", "gaps")
		if err != nil {
			t.Fatal(err)
		}
		if err := b1.Equal(b2); err != nil {
			t.Fatalf("digest not stable: %v", err)
		}
		// The digest covers content, not just counters: change one message
		// keeping the counts (delete one, the counters move; then compare a
		// baseline whose digest alone differs).
		forged := b1
		forged.Digest = strings.Repeat("0", 64)
		if err := forged.Equal(b1); err == nil || !strings.Contains(err.Error(), "content digest") {
			t.Fatalf("Equal with another digest = %v", err)
		}
		if err := s.DeleteMsg(ctx, 60); err != nil {
			t.Fatal(err)
		}
		b3, err := e.c.Digest(ctx, "hub", "gaps")
		if err != nil {
			t.Fatal(err)
		}
		err = b1.Equal(b3)
		if err == nil || !strings.Contains(err.Error(), "messages 95, expected 96") || !strings.Contains(err.Error(), "content digest") {
			t.Fatalf("Equal after a delete = %v", err)
		}
		// The ordered consumer is cleaned up (the count settles once the
		// deletion is applied through the meta group).
		testwait.Eventually(t, 5*time.Second, "digest consumer deleted", func() error {
			st, err := e.c.Stream(ctx, "hub", "gaps")
			if err != nil {
				return err
			}
			if st.Consumers != 0 {
				return fmt.Errorf("%d consumers left", st.Consumers)
			}
			return nil
		})
	})

	t.Run("prove: growth allowed, a lost message is not", func(t *testing.T) {
		ctx := ctxT(t, 30*time.Second)
		stream(t, hub, "prove", 3, 100)
		b, err := e.c.Record(ctx, "hub", "prove")
		if err != nil {
			t.Fatal(err)
		}
		whole := b
		whole.hashes = nil // as a backup's manifest has it
		testcluster.Publish(t, hub, "prove", 10)
		for _, base := range []Baseline{b, whole} {
			p, err := e.c.Prove(ctx, "hub", "prove", base)
			if err != nil || p.Kind != ProofRange || p.Verified != b.Msgs || p.LastSeq != b.LastSeq+10 {
				t.Fatalf("prove after growth: %v %+v (baseline %d messages up to %d)", err, p, b.Msgs, b.LastSeq)
			}
		}
		s, err := hub.Stream(ctx, "prove")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteMsg(ctx, 30); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Prove(ctx, "hub", "prove", b); err == nil || !strings.Contains(err.Error(), "lost 1 acknowledged messages") || !strings.Contains(err.Error(), "sequences 30") {
			t.Fatalf("prove after a delete: %v", err)
		}
		if _, err := e.c.Prove(ctx, "hub", "prove", whole); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("messages %d, expected %d", b.Msgs-1, b.Msgs)) {
			t.Fatalf("prove of a whole baseline after a delete: %v", err)
		}
		// The oldest recorded message gone from a stream with no limit that
		// discards is lost too.
		if err := s.DeleteMsg(ctx, b.FirstSeq); err != nil {
			t.Fatal(err)
		}
		b2, err := e.c.Record(ctx, "hub", "prove")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteMsg(ctx, b2.FirstSeq); err != nil {
			t.Fatal(err)
		}
		if p, err := e.c.Prove(ctx, "hub", "prove", b2); err == nil || !strings.Contains(err.Error(), "lost its 1 oldest") {
			t.Fatalf("prove after the first message went: %v %+v %+v", err, p, b2)
		}
	})

	t.Run("streams across domains", func(t *testing.T) {
		ctx := ctxT(t, 30*time.Second)
		us := e.cl.JetStream(t, "us")
		testcluster.CreateStream(t, us, njs.StreamConfig{Name: "us", Subjects: []string{"us.>"}, Replicas: 3}, testwait.Converge)
		testcluster.Publish(t, us, "us", 20)
		if err := e.c.WaitStreamCurrent(ctx, "us", "us", 3, nil); err != nil {
			t.Fatal(err)
		}
		list, err := e.c.Streams(ctx, "us")
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(list.Streams, func(s StreamState) bool { return s.Name == "us" })
		if i < 0 || list.Streams[i].Msgs != 20 || list.Streams[i].Cluster != "US" {
			t.Fatalf("streams in us = %+v", list)
		}
		for _, p := range list.Streams[i].Peers() {
			if !strings.HasPrefix(p, "us_") {
				t.Fatalf("stream us has a replica on %s, outside domain us", p)
			}
		}
		hubList, err := e.c.Streams(ctx, "hub")
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(hubList.Streams, func(s StreamState) bool { return s.Name == "us" }) {
			t.Fatalf("stream us listed in hub: %+v", hubList)
		}
		if _, err := e.c.Stream(ctx, "hub", "us"); !IsErrCode(err, ErrCodeStreamNotFound) {
			t.Fatalf("stream us looked up in hub: %v, want stream not found", err)
		}
	})

	t.Run("set replicas 1 to 3", func(t *testing.T) {
		ctx := ctxT(t, 30*time.Second)
		testcluster.CreateStream(t, hub, njs.StreamConfig{Name: "bar", Subjects: []string{"bar.>"}, Replicas: 1, MaxMsgsPerSubject: 1000, Description: "kept"}, testwait.Converge)
		testcluster.Publish(t, hub, "bar", 50)
		before, err := e.c.Digest(ctx, "hub", "bar")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.c.SetReplicas(ctx, "hub", "bar", 3); err != nil {
			t.Fatal(err)
		}
		seen := 0
		if err := e.c.WaitStreamCurrent(ctx, "hub", "bar", 3, func(StreamState) { seen++ }); err != nil {
			t.Fatal(err)
		}
		if seen == 0 {
			t.Fatal("progress never called")
		}
		s, err := hub.Stream(ctx, "bar")
		if err != nil {
			t.Fatal(err)
		}
		info := s.CachedInfo()
		if info.Config.Replicas != 3 || len(info.Cluster.Replicas) != 2 || info.Config.Description != "kept" || info.Config.MaxMsgsPerSubject != 1000 {
			t.Fatalf("after SetReplicas: config %+v cluster %+v", info.Config, info.Cluster)
		}
		after, err := e.c.Digest(ctx, "hub", "bar")
		if err != nil {
			t.Fatal(err)
		}
		if err := before.Equal(after); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("snapshot and restore", func(t *testing.T) {
		ctx := ctxT(t, 60*time.Second)
		stream(t, hub, "snap", 3, 50)
		if _, err := hub.CreateOrUpdateConsumer(ctx, "snap", njs.ConsumerConfig{Durable: "worker", AckPolicy: njs.AckExplicitPolicy}); err != nil {
			t.Fatal(err)
		}
		before, err := e.c.Digest(ctx, "hub", "snap")
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir() + "/snap"
		snap, err := e.c.Snapshot(ctx, "hub", "snap", dir)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Stream != "snap" || snap.Msgs != 50 || snap.LastSeq != 50 || snap.Consumers != 1 || snap.Storage != "file" || snap.ArchiveBytes == 0 {
			t.Fatalf("snapshot %+v", snap)
		}
		if _, err := e.c.Restore(ctx, "hub", dir, RestoreOptions{}); err == nil || !strings.Contains(err.Error(), "exists") {
			t.Fatalf("restore over a live stream: %v, want a refusal", err)
		}
		if err := hub.DeleteStream(ctx, "snap"); err != nil {
			t.Fatal(err)
		}
		st, err := e.c.Restore(ctx, "hub", dir, RestoreOptions{Replicas: 1, Metadata: map[string]string{"dcctl.restored-from": "mark"}})
		if err != nil {
			t.Fatal(err)
		}
		if st.Replicas != 1 || st.Msgs != 50 || st.Metadata["dcctl.restored-from"] != "mark" {
			t.Fatalf("restored as %+v", st)
		}
		if err := e.c.SetReplicas(ctx, "hub", "snap", 3); err != nil {
			t.Fatal(err)
		}
		if err := e.c.WaitStreamCurrent(ctx, "hub", "snap", 3, nil); err != nil {
			t.Fatal(err)
		}
		// The mark survives a stream update, as the server itself reports it.
		if s, err := hub.Stream(ctx, "snap"); err != nil || s.CachedInfo().Config.Metadata["dcctl.restored-from"] != "mark" {
			t.Fatalf("metadata after restore and update: %v %v", err, s)
		}
		after, err := e.c.Digest(ctx, "hub", "snap")
		if err != nil {
			t.Fatal(err)
		}
		if err := before.Equal(after); err != nil {
			t.Fatal(err)
		}
		// The consumer came back with the stream. Right after the scale-up
		// its own replicas are still electing a leader, and until then an
		// info request can answer "consumer not found": ask until it settles.
		testwait.Eventually(t, 10*time.Second, "consumer worker after restore", func() error {
			_, err := hub.Consumer(ctx, "snap", "worker")
			return err
		})

		testcluster.CreateStream(t, hub, njs.StreamConfig{Name: "mem", Subjects: []string{"mem.>"}, Replicas: 3, Storage: njs.MemoryStorage}, testwait.Converge)
		_, err = e.c.Snapshot(ctx, "hub", "mem", t.TempDir()+"/mem")
		if !errors.Is(err, ErrMemoryStream) || !strings.Contains(err.Error(), "memory streams cannot be snapshotted") {
			t.Fatalf("snapshot of a memory stream: %v", err)
		}
	})

	t.Run("through a leaf cluster: digest, and restore into another domain", func(t *testing.T) {
		ctx := ctxT(t, 60*time.Second)
		stream(t, hub, "leafsrc", 3, 50)
		// Requests to domain hub now cross a leafnode link, where a new
		// subscription's interest arrives later than on a route.
		c := e.connect(e.urls("US"))
		want, err := e.c.Digest(ctx, "hub", "leafsrc")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			got, err := c.Digest(ctx, "hub", "leafsrc")
			if err != nil {
				t.Fatal(err)
			}
			if err := want.Equal(got); err != nil {
				t.Fatal(err)
			}
		}
		dir := t.TempDir() + "/leafsrc"
		if _, err := c.Snapshot(ctx, "hub", "leafsrc", dir); err != nil {
			t.Fatal(err)
		}
		st, err := c.Restore(ctx, "us", dir, RestoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.Domain != "us" || st.Replicas != 3 {
			t.Fatalf("restored %+v", st)
		}
		if err := c.WaitStreamCurrent(ctx, "us", "leafsrc", 3, nil); err != nil {
			t.Fatal(err)
		}
		got, err := e.c.Digest(ctx, "us", "leafsrc")
		if err != nil {
			t.Fatal(err)
		}
		if err := want.Equal(got); err != nil {
			t.Fatal(err)
		}
		us, err := e.c.Stream(ctx, "us", "leafsrc")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range us.Peers() {
			if !strings.HasPrefix(p, "us_") {
				t.Fatalf("leafsrc restored into us has a replica on %s", p)
			}
		}
	})

	t.Run("can lose a node while healthy, not an R1 holder", func(t *testing.T) {
		ctx := ctxT(t, testwait.Converge+time.Minute)
		testwait.Eventually(t, testwait.Converge, "every hub node can go", func() error {
			for _, n := range hubNodes {
				if err := e.c.CanLose(ctx, "hub", n); err != nil {
					return err
				}
			}
			return nil
		})
		testcluster.CreateStream(t, hub, njs.StreamConfig{Name: "single", Subjects: []string{"single"}, Replicas: 1}, testwait.Converge)
		st, err := e.c.Stream(ctx, "hub", "single")
		if err != nil {
			t.Fatal(err)
		}
		err = e.c.CanLose(ctx, "hub", st.Leader)
		if !IsUnsafe(err) || !strings.Contains(err.Error(), "stream single is R1") {
			t.Fatalf("CanLose(%s) holding an R1 stream = %v", st.Leader, err)
		}
		if err := hub.DeleteStream(ctx, "single"); err != nil {
			t.Fatal(err)
		}
	})

	// An R2 stream loses its quorum with either server: node stop (CanLose)
	// says so as a risk, a planned restart (CanRestart) as a warning. On
	// the lab `dcctl node stop` of such a server said nothing and the
	// stream took no writes until it was back.
	t.Run("an R2 holder's loss is said", func(t *testing.T) {
		ctx := ctxT(t, testwait.Converge+time.Minute)
		testcluster.CreateStream(t, hub, njs.StreamConfig{Name: "pair", Subjects: []string{"pair"}, Replicas: 2}, testwait.Converge)
		var st *StreamState
		testwait.Eventually(t, testwait.Converge, "stream pair has both replicas current", func() (err error) {
			if st, err = e.c.Stream(ctx, "hub", "pair"); err != nil {
				return err
			}
			if len(st.Followers) != 1 || !st.Followers[0].Healthy() {
				return fmt.Errorf("followers %v", st.Followers)
			}
			return nil
		})
		err := e.c.CanLose(ctx, "hub", st.Followers[0].Name)
		if !IsUnsafe(err) || !strings.Contains(err.Error(), "stream pair is R2 with a replica on "+st.Followers[0].Name) {
			t.Fatalf("CanLose(%s) holding an R2 stream's replica = %v", st.Followers[0].Name, err)
		}
		warnings, err := e.c.CanRestart(ctx, "hub", st.Leader)
		if err != nil || !strings.Contains(strings.Join(warnings, "\n"), "stream pair is R2 with a replica on "+st.Leader) {
			t.Fatalf("CanRestart(%s) holding an R2 stream's replica = %v, %v", st.Leader, warnings, err)
		}
		if err := hub.DeleteStream(ctx, "pair"); err != nil {
			t.Fatal(err)
		}
	})

}

// TestLeafMetaPeerRemove removes a stopped leaf server from its domain's
// meta group through the hub, on a deployment of its own (a server stays down).
func TestLeafMetaPeerRemove(t *testing.T) {
	e, _ := newEnv(t)
	{
		ctx := ctxT(t, testwait.Converge+time.Minute)
		// Only hub URLs: the request must travel to domain us over the
		// system account's leafnode link.
		c := e.connect(e.urls("BB"))
		m, err := c.Meta(ctx, "us")
		if err != nil {
			t.Fatal(err)
		}
		victim := "us_1"
		if m.Leader == victim {
			victim = "us_2"
		}
		e.cl.Stop(victim)
		testwait.Eventually(t, testwait.Converge, victim+" offline in domain us", func() error {
			m, err := c.Meta(ctx, "us")
			if err != nil {
				return err
			}
			if p, ok := m.Peer(victim); !ok || !p.Offline {
				return fmt.Errorf("peer %s: %+v", victim, p)
			}
			return nil
		})
		if err := c.MetaPeerRemove(ctx, "us", victim); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitMetaPeer(ctx, "us", victim, false); err != nil {
			t.Fatal(err)
		}
		m, err = c.Meta(ctx, "us")
		if err != nil {
			t.Fatal(err)
		}
		if m.Size != 2 || m.Quorum != 2 {
			t.Fatalf("domain us after removal: size %d quorum %d, want 2 and 2", m.Size, m.Quorum)
		}
		if hm, err := c.Meta(ctx, "hub"); err != nil || hm.Size != 4 {
			t.Fatalf("hub meta group touched by a removal in us: %+v, %v", hm, err)
		}
	}
}

// TestLosingBackboneServers is one drill in steps that build on each other:
// the server leading both a stream and the meta group dies, its replica is
// peer-removed, then a second server dies and the meta group loses quorum.
// Run it whole; a step alone says so.
func TestLosingBackboneServers(t *testing.T) {
	e, hub := newEnv(t)
	stream(t, hub, "foo", 3, 100)
	var killed string
	var fooBaseline Baseline
	afterKill := func(t *testing.T) {
		if killed == "" {
			t.Fatal("this step follows \"stream and meta leader killed\": run TestLosingBackboneServers whole")
		}
	}
	t.Run("stream and meta leader killed", func(t *testing.T) {
		ctx := ctxT(t, testwait.Converge+time.Minute)
		st, err := e.c.Stream(ctx, "hub", "foo")
		if err != nil {
			t.Fatal(err)
		}
		killed = st.Leader
		if fooBaseline, err = e.c.Digest(ctx, "hub", "foo"); err != nil {
			t.Fatal(err)
		}
		// The drill kills a server leading both; arrange it.
		if e.cl.MetaLeader("hub") != killed {
			if err := e.c.MetaStepDown(ctx, "hub", killed); err != nil {
				t.Fatal(err)
			}
			testwait.Eventually(t, testwait.Converge, "meta leadership moves to "+killed, func() error {
				if l := e.cl.MetaLeader("hub"); l != killed {
					return fmt.Errorf("meta leader is %q", l)
				}
				return nil
			})
		}
		e.cl.Stop(killed)

		testwait.Eventually(t, testwait.Converge, "new meta leader, "+killed+" offline", func() error {
			m, err := e.c.Meta(ctx, "hub")
			if err != nil {
				return err
			}
			if !m.HasLeader() || m.Leader == killed {
				return fmt.Errorf("meta leader %q", m.Leader)
			}
			if p, ok := m.Peer(killed); !ok || !p.Offline || p.Healthy() {
				return fmt.Errorf("meta peer %s: %+v (present %v)", killed, p, ok)
			}
			if m.Size != 4 || len(m.Peers) != 4 {
				return fmt.Errorf("meta size %d, %d peers", m.Size, len(m.Peers))
			}
			return nil
		})
		testwait.Eventually(t, testwait.Converge, "new stream leader, "+killed+" replica offline", func() error {
			st, err := e.c.Stream(ctx, "hub", "foo")
			if err != nil {
				return err
			}
			if st.Leader == "" || st.Leader == killed {
				return fmt.Errorf("stream leader %q", st.Leader)
			}
			for _, f := range st.Followers {
				if f.Name == killed && f.Offline {
					return nil
				}
			}
			return fmt.Errorf("followers %+v", st.Followers)
		})
		// One more loss would break the meta quorum (3 of 4 needed).
		other := hubNodes[0]
		if other == killed {
			other = hubNodes[1]
		}
		err = e.c.CanLose(ctx, "hub", other)
		if !IsUnsafe(err) || !strings.Contains(err.Error(), "lose quorum") {
			t.Fatalf("CanLose(%s) with %s down = %v", other, killed, err)
		}
	})

	t.Run("stream peer remove", func(t *testing.T) {
		afterKill(t)
		ctx := ctxT(t, testwait.Converge+time.Minute)
		if err := e.c.StreamPeerRemove(ctx, "hub", "foo", killed); err != nil {
			t.Fatal(err)
		}
		if err := e.c.WaitStreamCurrent(ctx, "hub", "foo", 3, nil); err != nil {
			t.Fatal(err)
		}
		st, err := e.c.Stream(ctx, "hub", "foo")
		if err != nil {
			t.Fatal(err)
		}
		if st.HasPeer(killed) || len(st.Peers()) != 3 {
			t.Fatalf("after peer-remove: peers %v, want 3 without %s", st.Peers(), killed)
		}
		after, err := e.c.Digest(ctx, "hub", "foo")
		if err != nil {
			t.Fatal(err)
		}
		if err := fooBaseline.Equal(after); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("two of four down: no meta leader, promptly", func(t *testing.T) {
		afterKill(t)
		ctx := ctxT(t, testwait.Converge+time.Minute)
		second := e.cl.MetaLeader("hub")
		e.cl.Stop(second)
		// Every call returns within one timeout, whatever the state (not one
		// per dead server); the state itself settles once the survivors'
		// links have reconnected. Each call gets a budget of one and a half
		// of its connection's timeouts: a call that waited a timeout per dead
		// server (two here) runs into the budget and fails with the
		// caller's deadline; one that ends at its own timeout does not.
		const timeout = 20 * time.Second
		bounded := e.connectWith(e.urls(""), func(o *Options) { o.Timeout = timeout })
		prompt := func(what string, call func(context.Context) error) error {
			cctx, cancel := context.WithTimeout(ctx, timeout+timeout/2)
			defer cancel()
			err := call(cctx)
			if cctx.Err() != nil && ctx.Err() == nil {
				t.Errorf("%s with 2 of 4 hub servers down outlasted one timeout (%s): %v", what, timeout, err)
			}
			return err
		}
		var m *MetaGroup
		testwait.Eventually(t, testwait.Converge, "survivors report no meta leader", func() error {
			if err := prompt("Meta", func(ctx context.Context) (err error) { m, err = bounded.Meta(ctx, "hub"); return err }); err != nil {
				return err
			}
			if m.HasLeader() {
				return fmt.Errorf("meta leader %q with 2 of 4 servers down", m.Leader)
			}
			if len(m.Responded) != 2 || m.Size != 4 || m.Quorum != 3 {
				return fmt.Errorf("meta %+v, want 2 responders of 4, quorum 3", m)
			}
			return nil
		})
		live := len(e.cl.Inv.Nodes) - 2
		testwait.Eventually(t, testwait.Converge, fmt.Sprintf("the %d live servers answer", live), func() error {
			var srv []Server
			if err := prompt("Servers", func(ctx context.Context) (err error) { srv, err = bounded.Servers(ctx); return err }); err != nil {
				return err
			}
			if len(srv) != live {
				return fmt.Errorf("%d servers answered, want %d (2 hub, every us)", len(srv), live)
			}
			return nil
		})
		err := prompt("CanLose", func(ctx context.Context) error { return bounded.CanLose(ctx, "hub", m.Responded[0]) })
		if !IsUnsafe(err) || !strings.Contains(err.Error(), "no meta leader") {
			t.Fatalf("CanLose without a meta leader = %v", err)
		}
		// Dead hosts first in the list, silent as a blackholed address
		// (their dials hang until the deadline), still let Connect through,
		// and every connection goes through Options.Dial. The connection
		// timeout is an hour, so a dial of a silent host that nats.go waited
		// for would hold Connect until its minute-long ctx ends and fail it.
		dead := map[string]bool{}
		var urls []string
		for _, n := range []string{killed, second} {
			u := e.cl.Inv.Node(n).ClientURL()
			dead[hostPort(u)] = true
			urls = append(urls, u)
		}
		urls = append(urls, e.urls("BB")...)
		var dials, deadDials atomic.Int32
		blackhole := func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			if dead[addr] {
				deadDials.Add(1)
				<-ctx.Done()
				return nil, ctx.Err()
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
		su, sp := e.cl.SysUser()
		au, ap := e.cl.AppUser()
		c, err := Connect(ctxT(t, time.Minute), Options{URLs: urls, Dial: blackhole, System: Credentials{User: su, Password: sp}, Accounts: []AccountUser{{Account: e.cl.Inv.JetStreamAccounts()[0].Name, Credentials: Credentials{User: au, Password: ap}}}, Timeout: time.Hour, TLS: e.cl.TLSConfig()})
		if err != nil {
			t.Fatalf("Connect with silent dead hosts first: %v", err)
		}
		defer c.Close()
		if dials.Load() == 0 {
			t.Fatal("Options.Dial was not used")
		}
		if deadDials.Load() == 0 {
			t.Fatal("the silent hosts were never tried: the test does not test them")
		}
		if _, err := c.Meta(ctx, "hub"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMsgHashes(t *testing.T) {
	var m msgHashes
	for _, seq := range []uint64{3, 4, 5, 9, 10, 20} {
		m.add(seq, seq*7)
	}
	if m.count() != 6 || len(m.runs) != 3 {
		t.Fatalf("count %d runs %d, want 6 messages in 3 runs", m.count(), len(m.runs))
	}
	for seq := uint64(0); seq < 25; seq++ {
		got, ok := m.get(seq)
		want := slices.Contains([]uint64{3, 4, 5, 9, 10, 20}, seq)
		if ok != want || (ok && got != seq*7) {
			t.Errorf("get(%d) = %d, %v", seq, got, ok)
		}
	}
	var seqs []uint64
	m.each(func(seq, _ uint64) { seqs = append(seqs, seq) })
	if !slices.Equal(seqs, []uint64{3, 4, 5, 9, 10, 20}) {
		t.Fatalf("each: %v", seqs)
	}
}
