package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
)

// The drills of docs/runbooks.md, run with dcctl's runbooks on the lab. Every outcome is
// judged by asking the servers themselves — nats.go against the client URLs
// and each server's own /jsz over HTTP — never through the runbooks' checks.

// drillLab holds one application-account connection per domain, to that
// domain's own servers.
type drillLab struct {
	t     *testing.T
	inv   *inventory.Inventory
	conns map[string]*nats.Conn
}

func newDrillLab(t *testing.T) *drillLab {
	t.Helper()
	ensureProvisioned(t)
	return openDrillLab(t, labInventory(t))
}

// openDrillLab connects to every domain of the provisioned inventory invFile.
func openDrillLab(t *testing.T, invFile string) *drillLab {
	t.Helper()
	inv, err := inventory.Load(invFile)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := inventory.LoadSecrets(inv, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	app := inv.JetStreamAccounts()[0].Users[0]
	d := &drillLab{t: t, inv: inv, conns: map[string]*nats.Conn{}}
	for _, cl := range inv.Clusters {
		var urls []string
		for _, n := range cl.Active() {
			urls = append(urls, n.ClientURL())
		}
		nc, err := nats.Connect(strings.Join(urls, ","), nats.UserInfo(app, sec.Password(app)), nats.RootCAs(pki.TrustedCA(inv)), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
		if err != nil {
			t.Fatalf("connect to domain %s: %v", cl.Domain, err)
		}
		t.Cleanup(nc.Close)
		d.conns[cl.Domain] = nc
	}
	return d
}

// with returns the drill lab reporting to t: a subtest's failure must end
// that subtest, not its parent.
func (d *drillLab) with(t *testing.T) *drillLab {
	c := *d
	c.t = t
	return &c
}

func (d *drillLab) js(domain string) njs.JetStream {
	js, err := njs.NewWithDomain(d.conns[domain], domain)
	if err != nil {
		d.t.Fatal(err)
	}
	return js
}

// freshStream deletes stream if it exists and creates it with n messages.
func (d *drillLab) freshStream(domain string, cfg njs.StreamConfig, n int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	js := d.js(domain)
	if err := js.DeleteStream(ctx, cfg.Name); err != nil && !errors.Is(err, njs.ErrStreamNotFound) {
		d.t.Fatalf("delete %s: %v", cfg.Name, err)
	}
	testcluster.CreateStream(d.t, js, cfg, time.Minute)
	d.publish(domain, strings.TrimSuffix(cfg.Subjects[0], ">"), n)
}

// publish sends n messages, retrying each through a leader election.
func (d *drillLab) publish(domain, prefix string, n int) {
	d.t.Helper()
	js := d.js(domain)
	for i := 0; i < n; i++ {
		subj := fmt.Sprintf("%s%d", prefix, i%5)
		testwait.Eventually(d.t, 30*time.Second, "publish to "+subj, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err := js.Publish(ctx, subj, []byte(fmt.Sprintf("%s message %d at %s", domain, i, time.Now().Format(time.RFC3339Nano))))
			return err
		})
	}
}

// content reads every message of stream and hashes sequence, subject and
// data: the test's own digest, independent of the runbooks' Digest.
type content struct {
	Msgs    uint64
	LastSeq uint64
	SHA256  string
}

func (d *drillLab) content(domain, stream string) content {
	d.t.Helper()
	return d.contentUpTo(domain, stream, 0)
}

// contentUpTo is content of the messages up to sequence upTo (0: all), for a
// stream that clients keep publishing to: the range an earlier content()
// covered must read the same.
func (d *drillLab) contentUpTo(domain, stream string, upTo uint64) content {
	d.t.Helper()
	var c content
	testwait.Eventually(d.t, time.Minute, "read "+stream, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		js := d.js(domain)
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		// One STREAM.MSG.GET per sequence, answered by the stream leader: no
		// consumer to place, so a dead peer cannot strand the read.
		h := sha256.New()
		var got, last uint64
		end := info.State.LastSeq
		if upTo > 0 {
			if end < upTo {
				return fmt.Errorf("last sequence %d is behind %d", end, upTo)
			}
			end = upTo
		}
		for seq := info.State.FirstSeq; seq <= end && info.State.Msgs > 0; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if errors.Is(err, njs.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("get %s seq %d: %w", stream, seq, err)
			}
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], m.Sequence)
			h.Write(b[:])
			h.Write([]byte(m.Subject + "\x00"))
			h.Write(m.Data)
			got++
			last = m.Sequence
		}
		if upTo == 0 && got != info.State.Msgs {
			return fmt.Errorf("read %d messages, the stream reports %d", got, info.State.Msgs)
		}
		c = content{Msgs: got, LastSeq: last, SHA256: hex.EncodeToString(h.Sum(nil))}
		return nil
	})
	return c
}

func (d *drillLab) info(domain, stream string) (*njs.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := d.js(domain).Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	return s.Info(ctx)
}

// jszStream is one server's own view of a stream it holds a replica of.
type jszStream struct {
	Name    string `json:"name"`
	Cluster *struct {
		Leader   string `json:"leader"`
		Replicas []struct {
			Name    string `json:"name"`
			Current bool   `json:"current"`
			Offline bool   `json:"offline"`
		} `json:"replicas"`
	} `json:"cluster"`
	State struct {
		Msgs    uint64 `json:"messages"`
		LastSeq uint64 `json:"last_seq"`
	} `json:"state"`
}

// serverStream asks node's /jsz for its replica of stream; nil when it holds none.
func (d *drillLab) serverStream(node, stream string) (*jszStream, error) {
	n := d.inv.Node(node)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	code, body, err := httpGet(ctx, n.Host, n.Ports.HTTP, "/jsz?accounts=true&streams=true")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("%s /jsz answered %d", node, code)
	}
	var jsz struct {
		Accounts []struct {
			Streams []jszStream `json:"stream_detail"`
		} `json:"account_details"`
	}
	if err := json.Unmarshal(body, &jsz); err != nil {
		return nil, err
	}
	for _, a := range jsz.Accounts {
		for _, s := range a.Streams {
			if s.Name == stream {
				return &s, nil
			}
		}
	}
	return nil, nil
}

// replicas asks the stream's leader (its own /jsz) for the replica set and
// requires every follower current.
func (d *drillLab) replicas(domain, stream string) ([]string, error) {
	si, err := d.info(domain, stream)
	if err != nil {
		return nil, err
	}
	if si.Cluster == nil || si.Cluster.Leader == "" {
		return nil, fmt.Errorf("%s has no leader", stream)
	}
	own, err := d.serverStream(si.Cluster.Leader, stream)
	if err != nil || own == nil || own.Cluster == nil {
		return nil, fmt.Errorf("leader %s /jsz: %v", si.Cluster.Leader, err)
	}
	out := []string{si.Cluster.Leader}
	for _, r := range own.Cluster.Replicas {
		if !r.Current || r.Offline {
			return nil, fmt.Errorf("replica %s current=%v offline=%v", r.Name, r.Current, r.Offline)
		}
		out = append(out, r.Name)
	}
	return out, nil
}

func (d *drillLab) restoreNode(node string) {
	d.t.Helper()
	if _, stderr, code := runDcctl(d.t, "runbook", "restore-node", node, "-i", labInventory(d.t), "--yes"); code != 0 {
		d.t.Fatalf("restore-node %s: exit %d: %s", node, code, stderr)
	}
	n := d.inv.Node(node)
	testwait.Eventually(d.t, time.Minute, node+" healthy", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		code, _, err := httpGet(ctx, n.Host, n.Ports.HTTP, "/healthz")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("/healthz %d", code)
		}
		return err
	})
}

func (d *drillLab) kill(node string) {
	d.t.Helper()
	if _, stderr, code := runDcctl(d.t, "node", "kill", node, "-i", labInventory(d.t), "--yes"); code != 0 {
		d.t.Fatalf("node kill %s: exit %d: %s", node, code, stderr)
	}
}

// TestRunbookDrills runs the drills on one provisioned lab. Each sets up
// what it needs (its streams, fresh) and puts back what it breaks (killed
// nodes restored in its cleanup), so that any one runs alone:
// -run 'TestRunbookDrills/emea'.
func TestRunbookDrills(t *testing.T) {
	d := newDrillLab(t)
	inv := labInventory(t)

	t.Run("kill the leader of foo, replace-peer", func(t *testing.T) {
		d := d.with(t)
		d.freshStream("hub", njs.StreamConfig{Name: "foo", Subjects: []string{"foo.>"}, Storage: njs.FileStorage, Replicas: 3}, 200)
		// A client publishes with acks throughout, as in production.
		live := d.publishLive("hub", "foo", "foo.live.")
		live.waitAcked(t, 10)
		si, err := d.info("hub", "foo")
		if err != nil {
			t.Fatal(err)
		}
		dead := si.Cluster.Leader
		d.kill(dead)
		t.Cleanup(func() { d.restoreNode(dead) })
		// The stream elects a new leader and keeps accepting messages.
		live.waitAcked(t, 10)
		before := d.content("hub", "foo")
		out, stderr, code := runDcctl(t, "runbook", "replace-peer", dead, "-i", inv, "--yes")
		if code != 0 {
			t.Fatalf("replace-peer %s: exit %d: %s", dead, code, stderr)
		}
		if !strings.Contains(out, "stream foo proven by range-digest") {
			t.Errorf("replace-peer does not name the proof for foo:\n%s", out)
		}
		var got []string
		testwait.Eventually(t, time.Minute, "foo has 3 current replicas", func() (err error) {
			got, err = d.replicas("hub", "foo")
			if err == nil && len(got) != 3 {
				err = fmt.Errorf("replicas %v", got)
			}
			return err
		})
		if slices.Contains(got, dead) {
			t.Fatalf("foo still on %s: %v", dead, got)
		}
		if after := d.contentUpTo("hub", "foo", before.LastSeq); after != before {
			t.Fatalf("foo content changed: before %+v, after %+v", before, after)
		}
		live.waitAcked(t, 5)
		live.check(t)
	})

	t.Run("us R3: kill its leader, replace-peer refuses (no spare server), restore-node", func(t *testing.T) {
		d := d.with(t)
		d.freshStream("us", njs.StreamConfig{Name: "us", Subjects: []string{"us.>"}, Storage: njs.FileStorage, Replicas: 3}, 100)
		si, err := d.info("us", "us")
		if err != nil {
			t.Fatal(err)
		}
		dead := si.Cluster.Leader
		live := d.publishLive("us", "us", "us.live.")
		live.waitAcked(t, 10)
		d.kill(dead)
		live.waitAcked(t, 10)
		before := d.content("us", "us")
		// Three servers, R3: no server can take a new replica; nats-server
		// would refuse the removal too. The runbook refuses and says so.
		_, stderr, code := runDcctl(t, "runbook", "replace-peer", dead, "-i", inv, "--yes")
		if code != 2 || !strings.Contains(stderr, "no online server") {
			t.Fatalf("replace-peer %s in a full cluster: exit %d: %s", dead, code, stderr)
		}
		d.restoreNode(dead)
		testwait.Eventually(t, time.Minute, "us whole again", func() error {
			got, err := d.replicas("us", "us")
			if err == nil && (len(got) != 3 || !slices.Contains(got, dead)) {
				err = fmt.Errorf("replicas %v", got)
			}
			return err
		})
		if after := d.contentUpTo("us", "us", before.LastSeq); after != before {
			t.Fatalf("us content changed: before %+v, after %+v", before, after)
		}
		live.waitAcked(t, 5)
		live.check(t)
	})

	t.Run("emea R1 to R3", func(t *testing.T) {
		d := d.with(t)
		d.freshStream("emea", njs.StreamConfig{Name: "emea", Subjects: []string{"emea.>"}, Storage: njs.FileStorage, Replicas: 1}, 300)
		live := d.publishLive("emea", "emea", "emea.live.")
		live.waitAcked(t, 10)
		before := d.content("emea", "emea")
		out, stderr, code := runDcctl(t, "runbook", "expand-stream", "emea", "--domain", "emea", "--replicas", "3", "-i", inv, "--yes")
		if code != 0 {
			t.Fatalf("expand-stream: exit %d: %s", code, stderr)
		}
		if !strings.Contains(out, "stream emea proven by range-digest") {
			t.Errorf("expand-stream does not name the proof:\n%s", out)
		}
		if after := d.contentUpTo("emea", "emea", before.LastSeq); after != before {
			t.Fatalf("emea content changed: before %+v, after %+v", before, after)
		}
		live.waitAcked(t, 5)
		live.check(t)
		final := d.content("emea", "emea")
		// Every server of the cluster reports the same messages and last
		// sequence in its own /jsz as the leader, once the client stopped.
		for _, n := range d.inv.Cluster("EMEA").Active() {
			testwait.Eventually(t, 30*time.Second, n.Name+" holds emea", func() error {
				s, err := d.serverStream(n.Name, "emea")
				switch {
				case err != nil:
					return err
				case s == nil:
					return fmt.Errorf("no replica")
				case s.State.Msgs != final.Msgs || s.State.LastSeq != final.LastSeq:
					return fmt.Errorf("%d messages up to %d, want %d up to %d", s.State.Msgs, s.State.LastSeq, final.Msgs, final.LastSeq)
				}
				return nil
			})
		}
	})

	t.Run("backup us, delete, restore", func(t *testing.T) {
		d := d.with(t)
		// Its own stream: the drill runs alone too (-run 'TestRunbookDrills/backup').
		d.freshStream("us", njs.StreamConfig{Name: "us", Subjects: []string{"us.>"}, Storage: njs.FileStorage, Replicas: 3}, 100)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		js := d.js("us")
		for _, name := range []string{"billing", "audit"} {
			if _, err := js.CreateOrUpdateConsumer(ctx, "us", njs.ConsumerConfig{Durable: name, AckPolicy: njs.AckExplicitPolicy}); err != nil {
				t.Fatal(err)
			}
		}
		before := d.content("us", "us")
		dir := filepath.Join(t.TempDir(), "us")
		if _, stderr, code := runDcctl(t, "backup", "us", "--domain", "us", "--out", dir, "-i", inv); code != 0 {
			t.Fatalf("backup: exit %d: %s", code, stderr)
		}
		if err := js.DeleteStream(ctx, "us"); err != nil {
			t.Fatal(err)
		}
		// Clients publish throughout the restore: once the stream is back it
		// captures their messages, and the restore's proof allows that.
		live := d.publishLive("us", "us", "us.live.")
		if _, stderr, code := runDcctl(t, "runbook", "restore-stream", "--from", dir, "-i", inv, "--yes"); code != 0 {
			t.Fatalf("restore-stream: exit %d: %s", code, stderr)
		}
		live.waitAcked(t, 5)
		if after := d.contentUpTo("us", "us", before.LastSeq); after != before {
			t.Fatalf("restored us differs: before %+v, after %+v", before, after)
		}
		live.check(t)
		for _, name := range []string{"billing", "audit"} {
			if _, err := js.Consumer(ctx, "us", name); err != nil {
				t.Errorf("consumer %s not restored: %v", name, err)
			}
		}
		// Its followers are current again soon after the restore; right
		// after it, one may still be reported catching up (docs/nats-facts.md).
		testwait.Eventually(t, time.Minute, "us whole after the restore", func() error {
			got, err := d.replicas("us", "us")
			if err == nil && len(got) != 3 {
				err = fmt.Errorf("replicas %v", got)
			}
			return err
		})
	})

	t.Run("2 of 4 backbone down: refusals, then restore-node", func(t *testing.T) {
		d := d.with(t)
		d.freshStream("hub", njs.StreamConfig{Name: "foo", Subjects: []string{"foo.>"}, Storage: njs.FileStorage, Replicas: 3}, 50)
		d.freshStream("hub", njs.StreamConfig{Name: "hubone", Subjects: []string{"hubone.>"}, Storage: njs.FileStorage, Replicas: 1}, 10)
		dir := filepath.Join(t.TempDir(), "hubone")
		if _, stderr, code := runDcctl(t, "backup", "hubone", "--domain", "hub", "--out", dir, "-i", inv); code != 0 {
			t.Fatalf("backup: exit %d: %s", code, stderr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.js("hub").DeleteStream(ctx, "hubone"); err != nil {
			t.Fatal(err)
		}
		si, err := d.info("hub", "foo")
		if err != nil {
			t.Fatal(err)
		}
		// Keep foo's leader alive so its state can still be read from it.
		var down []string
		for _, n := range d.inv.Cluster("BB").Active() {
			if n.Name != si.Cluster.Leader && len(down) < 2 {
				down = append(down, n.Name)
			}
		}
		for _, n := range down {
			d.kill(n)
		}
		t.Cleanup(func() {
			for _, n := range down {
				d.restoreNode(n)
			}
		})
		live := si.Cluster.Leader
		lnode := d.inv.Node(live)
		testwait.Eventually(t, time.Minute, "hub has no meta leader", func() error {
			leader, err := metaLeaderSeenBy(lnode.Host, lnode.Ports.HTTP)
			if err == nil && leader != "" {
				err = fmt.Errorf("%s still sees meta leader %s", live, leader)
			}
			return err
		})
		fooBefore, err := d.serverStream(live, "foo")
		if err != nil || fooBefore == nil {
			t.Fatalf("foo on %s: %v", live, err)
		}
		for _, args := range [][]string{
			{"runbook", "replace-peer", down[0]},
			{"runbook", "expand-stream", "foo", "--domain", "hub", "--replicas", "4"},
			{"runbook", "expand-stream", "foo", "--domain", "hub", "--replicas", "3"},
			{"runbook", "restore-stream", "--from", dir},
		} {
			_, stderr, code := runDcctl(t, append(args, "-i", inv, "--yes")...)
			if code != 2 || !strings.Contains(stderr, "no meta leader") {
				t.Errorf("dcctl %s: exit %d, want 2 (no meta leader): %s", strings.Join(args, " "), code, stderr)
			}
		}
		// Nothing changed: foo's replica on the live server is as it was, both
		// nodes are still down, hubone was not restored.
		fooAfter, err := d.serverStream(live, "foo")
		if err != nil || fooAfter == nil || fooAfter.State != fooBefore.State {
			t.Fatalf("foo on %s changed: before %+v, after %+v (%v)", live, fooBefore, fooAfter, err)
		}
		for _, n := range down {
			if st := strings.TrimSpace(sshHost(t, n, "systemctl is-active nats-server || true")); st == "active" {
				t.Errorf("%s was started by a refused runbook", n)
			}
		}
		for _, n := range down {
			d.restoreNode(n)
		}
		// The meta group is whole: every backbone server sees one leader and
		// four current peers.
		for _, n := range d.inv.Cluster("BB").Active() {
			testwait.Eventually(t, time.Minute, n.Name+" sees a whole meta group", func() error {
				leader, err := metaLeaderSeenBy(n.Host, n.Ports.HTTP)
				if err == nil && leader == "" {
					err = errors.New("no meta leader")
				}
				return err
			})
		}
		if _, err := d.info("hub", "hubone"); err == nil {
			t.Error("hubone was restored by a refused run")
		}
	})
}
