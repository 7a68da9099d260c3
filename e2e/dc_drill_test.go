package e2e

import (
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/dcctl/dcctl/jetstream"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/provision"
	"github.com/dcctl/dcctl/status"
)

// TestDCDrill is the "DC link down" and "DC lost" drills of
// docs/runbooks.md on the provisioned lab. Clients on each side publish
// with acks throughout: to a stream of each leaf domain (from its own DC)
// and to a backbone stream (from each DC). Then:
//
//   - the link between the DCs is cut: status, from either side, exits 1,
//     says which DC it cannot reach and that it may be a partition, and
//     shows each leaf cluster whole; replace-peer of a far node refuses;
//     what keeps taking writes is measured;
//   - the link heals: status is healthy with no operator action, and every
//     acknowledged message is on every replica (a digest per replica);
//   - every host of one DC stops (its servers killed, the DC isolated from
//     the other and from this machine): status says so; the surviving DC
//     keeps serving; the DC comes back with `dcctl provision`.
//
// Nothing depends on the example's names: DCs, clusters and nodes come from
// the lab's inventory.
func TestDCDrill(t *testing.T) {
	began := time.Now()
	d := newDrillLab(t)
	invFile := labInventory(t)
	inv := d.inv
	dcs := inv.DCs()
	if len(dcs) != 2 {
		t.Fatalf("the drill needs two DCs, the lab has %v", dcs)
	}
	var hub *inventory.Cluster
	var leaves []*inventory.Cluster
	for _, cl := range inv.Clusters {
		if cl.IsLeaf() {
			leaves = append(leaves, cl)
		} else if len(dcsOfNodes(cl.Active())) == 2 {
			hub = cl
		}
	}
	if hub == nil || len(leaves) == 0 {
		t.Fatalf("the drill needs a cluster spanning both DCs and leaf clusters")
	}
	t.Cleanup(func() {
		// Whatever happened, the lab leaves this test whole.
		runCmd(context.Background(), filepath.Join(repoRoot(), "lab", "lab"), "heal")
	})
	sec, err := inventory.LoadSecrets(inv, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	tlsFiles, err := pki.Load(inv) // the deployment's CA, for the session's NATS connection
	if err != nil {
		t.Fatal(err)
	}
	tlsFiles.Apply(sec)
	sess := provision.NewSession(inv, sec, provision.SessionOptions{Direct: true})
	t.Cleanup(func() { sess.Close() })
	user := inv.JetStreamAccounts()[0].Users[0]
	pass := sec.Password(user)
	var report strings.Builder // what the drill measured, logged at the end
	note := func(format string, a ...any) {
		line := fmt.Sprintf(format, a...)
		report.WriteString("  " + line + "\n")
		t.Log(line)
	}
	defer func() { t.Logf("DC drill, measured (%.0fs in all):\n%s", time.Since(began).Seconds(), report.String()) }()

	// One stream per leaf domain, one on the backbone, all R3 (or the
	// cluster's size).
	type drillStream struct {
		domain, name, prefix string
		dc                   string // the leaf's DC; "" for the backbone
	}
	streams := []drillStream{{domain: hub.Domain, name: "dcdrill_hub", prefix: "dcdrill.hub."}}
	for _, cl := range leaves {
		streams = append(streams, drillStream{domain: cl.Domain, name: "dcdrill_" + cl.Domain, prefix: "dcdrill." + cl.Domain + ".", dc: cl.Active()[0].DC})
	}
	for _, s := range streams {
		r := min(3, len(inv.ClusterByDomain(s.domain).Active()))
		d.freshStream(s.domain, njs.StreamConfig{Name: s.name, Subjects: []string{s.prefix + ">"}, Storage: njs.FileStorage, Replicas: r}, 20)
		testwait.Eventually(t, time.Minute, s.name+" whole", func() error { _, err := d.replicas(s.domain, s.name); return err })
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, s := range streams {
			d.js(s.domain).DeleteStream(ctx, s.name)
		}
	})
	peers, err := d.replicas(hub.Domain, "dcdrill_hub")
	if err != nil {
		t.Fatal(err)
	}
	perDC := map[string]int{}
	for _, p := range peers {
		perDC[inv.Node(p).DC]++
	}
	major, minor := dcs[0], dcs[1]
	if perDC[minor] > perDC[major] {
		major, minor = minor, major
	}
	note("backbone stream dcdrill_hub: replicas %v, %d in %s (its majority), %d in %s", peers, perDC[major], major, perDC[minor], minor)

	// Clients: each leaf domain from its own DC, the backbone from each DC,
	// each connected only to servers of its DC.
	var pubs []*testcluster.Publisher
	hubPub := map[string]*testcluster.Publisher{}
	for _, dc := range dcs {
		nc := connectTo(t, invFile, nodesIn(hub.Active(), dc), user, pass)
		p := testcluster.StartPublisher(t, jsFor(t, nc, hub.Domain), fmt.Sprintf("backbone stream from %s", dc), "dcdrill_hub", testcluster.PublishOptions{Prefix: "dcdrill.hub." + dc + "."})
		hubPub[dc] = p
		pubs = append(pubs, p)
	}
	leafPub := map[string]*testcluster.Publisher{}
	for _, cl := range leaves {
		dc := cl.Active()[0].DC
		nc := connectTo(t, invFile, cl.Active(), user, pass)
		p := testcluster.StartPublisher(t, jsFor(t, nc, cl.Domain), fmt.Sprintf("leaf domain %s from %s", cl.Domain, dc), "dcdrill_"+cl.Domain, testcluster.PublishOptions{Prefix: "dcdrill." + cl.Domain + ".live."})
		leafPub[cl.Domain] = p
		pubs = append(pubs, p)
	}
	for _, p := range pubs {
		p.WaitPhaseAcks(t, "before", 10, time.Minute)
	}

	t.Run("DC link down", func(t *testing.T) {
		runLab(t, "partition", dcs[0], dcs[1])
		cut := time.Now()
		for _, p := range pubs {
			p.SetPhase("cut")
		}
		// Status from either side: exit 1, the far DC cut off, maybe a
		// partition; each leaf cluster whole in its DC.
		for _, side := range dcs {
			far := dcs[0]
			if far == side {
				far = dcs[1]
			}
			var r *status.Report
			var code int
			testwait.Eventually(t, time.Minute, "status from "+side+" sees "+far+" cut off", func() error {
				r, code = statusFrom(t, invFile, "--from-dc", side)
				if code != 1 {
					return fmt.Errorf("status exit %d", code)
				}
				if r.NATSViaDC != side {
					return fmt.Errorf("NATS through %s in %s", r.NATSVia, r.NATSViaDC)
				}
				if dc := reportDC(r, far); dc == nil || !dc.Cut {
					return fmt.Errorf("%s not cut off: %+v", far, r.DCs)
				}
				return nil
			})
			note("status --from-dc %s, %.1fs after the cut: exit %d in %.1fs, %s cut off", side, time.Since(cut).Seconds(), code, r.Seconds, far)
			if w := findWarning(r, "DC "+far+":"); w == "" || !strings.Contains(w, "partition") {
				t.Errorf("status from %s does not say that %s may be partitioned: %+v", side, far, r.Warnings)
			} else {
				note("  %s", w)
			}
			for _, cl := range leaves {
				dd := reportDomain(r, cl.Domain)
				if dd == nil || dd.MetaLeader == "" {
					t.Errorf("status from %s: leaf domain %s has no meta leader: %+v", side, cl.Domain, dd)
				}
				for _, w := range r.Warnings {
					if w.Domain == cl.Domain && strings.Contains(w.Message, "quorum lost") {
						t.Errorf("status from %s: leaf domain %s reported %q", side, cl.Domain, w.Message)
					}
				}
			}
			hd := reportDomain(r, hub.Domain)
			for _, v := range hd.Views {
				leader := v.MetaLeader
				if leader == "" {
					leader = "none"
				}
				note("  domain %s as seen from %s: meta leader %s (%d of %d peers healthy, quorum %d), %d of %d servers there answer", hub.Domain, v.DC, leader, v.HealthyPeers, v.ClusterSize, v.Quorum, len(v.Answered), hd.ClusterSize)
			}
			if len(hd.Views) != 2 {
				t.Errorf("status from %s: the backbone is not shown per side: %+v", side, hd.Views)
			}
		}
		if out, _, code := runDcctl(t, "status", "--from-dc", dcs[0], invFile); code == 1 {
			t.Logf("dcctl status --from-dc %s during the cut:\n%s", dcs[0], out)
		}

		// replace-peer of a node on the far side refuses.
		farNode := nodesIn(hub.Active(), minor)[0].Name
		out, stderr, code := runDcctl(t, "runbook", "replace-peer", farNode, "-i", invFile, "--yes")
		if code != 2 {
			t.Fatalf("replace-peer %s across the cut: exit %d, want 2 (refused)\n%s\n%s", farNode, code, out, stderr)
		}
		note("replace-peer %s during the cut: refused (exit 2): %s", farNode, refusal(stderr))

		// What takes writes across the cut, measured over a window.
		for _, cl := range leaves {
			leafPub[cl.Domain].WaitPhaseAcks(t, "cut", 50, time.Minute)
		}
		hubPub[major].WaitPhaseAcks(t, "cut", 50, time.Minute)
		for _, p := range pubs {
			note("during the cut: %s", p.Summary("cut"))
		}
		if st := hubPub[minor].Stats("cut"); st.Acks > 0 {
			t.Errorf("the backbone stream acknowledged %d writes from %s, which holds %d of its %d replicas", st.Acks, minor, perDC[minor], len(peers))
		}

		runLab(t, "heal")
		healed := time.Now()
		for _, p := range pubs {
			p.SetPhase("healed")
		}
		testwait.Eventually(t, 5*time.Minute, "status healthy after the heal", func() error {
			if out, _, code := runDcctl(t, "status", invFile); code != 0 {
				return fmt.Errorf("status exit %d:\n%s", code, lastLines(out, 12))
			}
			return nil
		})
		note("after the heal: status healthy %.1fs later, no operator action", time.Since(healed).Seconds())
		for _, p := range pubs {
			p.WaitPhaseAcks(t, "healed", 10, time.Minute)
			note("after the heal: %s", p.Summary("healed"))
		}
		for _, p := range pubs {
			p.Halt()
		}
		nc, err := sess.NATS(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range streams {
			digests := replicaDigests(t, nc, s.domain, s.name)
			note("%s: %s", s.name, digests)
		}
		for _, p := range pubs {
			p.Check(t)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("DC lost", func(t *testing.T) {
		lost, surv := minor, major
		var live []*testcluster.Publisher
		lp := testcluster.StartPublisher(t, hubPub[surv].JetStream(), "backbone stream from "+surv, "dcdrill_hub", testcluster.PublishOptions{Prefix: "dcdrill.hub." + surv + ".lost."})
		live = append(live, lp)
		for _, cl := range leaves {
			if cl.Active()[0].DC == surv {
				live = append(live, testcluster.StartPublisher(t, leafPub[cl.Domain].JetStream(), fmt.Sprintf("leaf domain %s from %s", cl.Domain, surv), "dcdrill_"+cl.Domain, testcluster.PublishOptions{Prefix: "dcdrill." + cl.Domain + ".lost."}))
			}
		}
		for _, p := range live {
			p.WaitPhaseAcks(t, "before", 10, time.Minute)
		}

		// Every host of the DC stops: its servers die at once, and nothing
		// reaches the DC any more, from the other DC or from here.
		svc := inv.NATS.Service + ".service"
		for _, n := range activeIn(inv, lost) {
			sshHost(t, n.Name, fmt.Sprintf("systemctl kill --signal=SIGKILL %s; systemctl stop %s", svc, svc))
		}
		runLab(t, "isolate", lost)
		down := time.Now()
		for _, p := range live {
			p.SetPhase("lost")
		}
		var r *status.Report
		testwait.Eventually(t, time.Minute, "status sees "+lost+" lost", func() error {
			var code int
			r, code = statusFrom(t, invFile)
			if dc := reportDC(r, lost); code != 1 || dc == nil || !dc.Cut || dc.SSHReachable != 0 {
				return fmt.Errorf("exit %d, %+v", code, r.DCs)
			}
			return nil
		})
		note("DC %s lost: status exit 1 in %.1fs (%.1fs after): %s", lost, r.Seconds, time.Since(down).Seconds(), findWarning(r, "DC "+lost+":"))
		if w := findWarning(r, "DC "+lost+":"); !strings.Contains(w, "partition") || !strings.Contains(w, "SSH") {
			t.Errorf("status does not say %s is unreachable and may be a partition: %q", lost, w)
		}
		out, stderr, code := runDcctl(t, "runbook", "replace-peer", nodesIn(hub.Active(), lost)[0].Name, "-i", invFile, "--yes")
		if code != 2 {
			t.Fatalf("replace-peer of a lost node without --force: exit %d, want 2\n%s\n%s", code, out, stderr)
		}
		note("replace-peer of a lost node, no --force: refused (exit 2): %s", refusal(stderr))

		// The surviving DC keeps serving.
		for _, p := range live {
			p.WaitPhaseAcks(t, "lost", 50, time.Minute)
			note("DC %s lost: %s", lost, p.Summary("lost"))
		}

		// The DC comes back: one provision starts every crashed server.
		runLab(t, "heal")
		back := time.Now()
		for _, p := range live {
			p.SetPhase("back")
		}
		// The hosts answer SSH again before provision can reach them.
		for _, n := range activeIn(inv, lost) {
			testwait.Eventually(t, time.Minute, n.Name+" answers SSH", func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, err := trySSH(ctx, "root", n.Host, "true")
				return err
			})
		}
		if out, stderr, code := runDcctl(t, "provision", invFile); code != 0 {
			t.Fatalf("provision after the DC came back: exit %d\n%s\n%s", code, out, stderr)
		}
		testwait.Eventually(t, 3*time.Minute, "status healthy after the DC came back", func() error {
			if out, _, code := runDcctl(t, "status", invFile); code != 0 {
				return fmt.Errorf("status exit %d:\n%s", code, lastLines(out, 12))
			}
			return nil
		})
		note("DC %s back: provision and status healthy %.1fs after the heal", lost, time.Since(back).Seconds())
		for _, p := range live {
			p.WaitPhaseAcks(t, "back", 10, time.Minute)
			p.Halt()
		}
		nc, err := sess.NATS(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range streams {
			note("%s after the DC came back: %s", s.name, replicaDigests(t, nc, s.domain, s.name))
		}
		for _, p := range live {
			p.Check(t)
		}
	})
}

func dcsOfNodes(nodes []*inventory.Node) []string {
	var out []string
	for _, n := range nodes {
		if !slices.Contains(out, n.DC) {
			out = append(out, n.DC)
		}
	}
	return out
}

func nodesIn(nodes []*inventory.Node, dc string) []*inventory.Node {
	var out []*inventory.Node
	for _, n := range nodes {
		if n.DC == dc {
			out = append(out, n)
		}
	}
	return out
}

func activeIn(inv *inventory.Inventory, dc string) []*inventory.Node {
	var out []*inventory.Node
	for _, n := range inv.Nodes {
		if n.DC == dc && !n.Standby {
			out = append(out, n)
		}
	}
	return out
}

// connectTo connects to the given servers only: a client of one side.
func connectTo(t *testing.T, invFile string, nodes []*inventory.Node, user, pass string) *nats.Conn {
	t.Helper()
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.ClientURL())
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.UserInfo(user, pass), nats.RootCAs(pki.CAPath(invFile)), nats.IgnoreDiscoveredServers(),
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatalf("connect to %s: %v", strings.Join(urls, ","), err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func jsFor(t *testing.T, nc *nats.Conn, domain string) njs.JetStream {
	js, err := njs.NewWithDomain(nc, domain)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// statusFrom is statusJSON with more arguments (--from-dc DC).
func statusFrom(t *testing.T, invFile string, args ...string) (*status.Report, int) {
	t.Helper()
	out, stderr, code := runDcctl(t, append([]string{"status", "--json", invFile}, args...)...)
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("status --json: exit %d, %v\n%s\n%s", code, err, out, stderr)
	}
	return &r, code
}

func reportDC(r *status.Report, name string) *status.DC {
	for i := range r.DCs {
		if r.DCs[i].Name == name {
			return &r.DCs[i]
		}
	}
	return nil
}

func findWarning(r *status.Report, prefix string) string {
	for _, w := range r.Warnings {
		if strings.HasPrefix(w.Message, prefix) {
			return w.Message
		}
	}
	return ""
}

// refusal is the line of dcctl's stderr that says why it refused.
func refusal(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "dcctl: refused: ") {
			l = strings.TrimPrefix(l, "dcctl: refused: ")
			if len(l) > 240 {
				l = l[:240] + "…"
			}
			return l
		}
	}
	return strings.TrimSpace(stderr)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// replicaDigests makes each replica of stream its leader in turn and takes
// the digest of every message as that replica holds it: every replica must
// hold the same messages. It returns a line for the drill's report.
func replicaDigests(t *testing.T, nc *jetstream.Conn, domain, stream string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var st *jetstream.StreamState
	testwait.Eventually(t, 2*time.Minute, stream+" whole", func() (err error) {
		st, err = nc.Stream(ctx, domain, stream)
		if err == nil {
			err = st.Current()
		}
		return err
	})
	var first jetstream.Baseline
	for i, peer := range st.Peers() {
		testwait.Eventually(t, time.Minute, stream+" led by "+peer, func() error {
			cur, err := nc.Stream(ctx, domain, stream)
			if err != nil {
				return err
			}
			if cur.Leader != peer {
				if err := nc.StreamStepDown(ctx, domain, stream, peer); err != nil {
					return err
				}
				return fmt.Errorf("leader %s", cur.Leader)
			}
			return cur.Current()
		})
		b, err := nc.Digest(ctx, domain, stream)
		if err != nil {
			t.Fatalf("digest of %s on %s: %v", stream, peer, err)
		}
		if i == 0 {
			first = b
			continue
		}
		if err := first.Equal(b); err != nil {
			t.Errorf("%s: replica %s differs from %s: %v", stream, peer, st.Peers()[0], err)
		}
	}
	return fmt.Sprintf("%d replicas (%s) hold the same %d messages %d..%d, sha256 %.12s", len(st.Peers()), strings.Join(st.Peers(), ", "), first.Msgs, first.FirstSeq, first.LastSeq, first.Digest)
}
