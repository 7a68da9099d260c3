package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
)

// TestUpgradeDrill is the upgrade drill of docs/runbooks.md on one leaf
// cluster of the lab (its hub keeps the pinned release: the two releases mix
// across the leafnode links): provision the older release (provision with a
// changed nats.binary, a downgrade, refused until allowed), then `runbook
// upgrade` to the pinned one while a client publishes with acks and another
// consumes, then `upgrade --rollback`, then provision back to where the
// lab was. Judged from the hosts and servers themselves: systemd's
// timestamps (never two nodes of the cluster down at once, the meta leader
// last), each server's /varz, the files on the hosts, and every acknowledged
// message read back from the stream.
func TestUpgradeDrill(t *testing.T) {
	t0 := time.Now()
	d := newDrillLab(t)
	labInv := labInventory(t)
	newBin := filepath.Join(repoRoot(), "bin", "nats-server")
	oldBin := filepath.Join(repoRoot(), "bin", "nats-server-old")
	if _, err := os.Stat(oldBin); err != nil {
		t.Fatalf("%v: scripts/test.sh builds it (go install github.com/nats-io/nats-server/v2@v2.14.9)", err)
	}
	const oldRelease, newRelease = "2.14.9", "2.15.2"
	var cl *inventory.Cluster
	for _, c := range d.inv.Clusters {
		if c.IsLeaf() {
			cl = c
			break
		}
	}
	if cl == nil {
		t.Fatal("the lab inventory has no leaf cluster")
	}
	var names []string
	for _, n := range cl.Active() {
		names = append(names, n.Name)
	}
	limit := strings.Join(names, ",")
	install := d.inv.NATS.InstallPath
	oldInv := inventoryWithBinary(t, oldBin)
	// Whatever happens, the lab ends on its own binary.
	t.Cleanup(func() {
		if _, stderr, code := runDcctl(t, "provision", labInv, "--limit", limit, "--allow-downgrade"); code != 0 {
			t.Errorf("restoring the lab's release: exit %d: %s", code, stderr)
		}
	})

	// 1. The older release, through provision: a downgrade across a minor
	// release is refused before anything is uploaded, then allowed.
	_, stderr, code := runDcctl(t, "provision", oldInv, "--limit", limit)
	if code != 2 || !strings.Contains(stderr, "a downgrade across minor releases") {
		t.Fatalf("provision of the older release: exit %d, want 2 (a downgrade): %s", code, stderr)
	}
	for _, n := range names {
		if got := hostSHA(t, n, install+".next"); got != "absent" {
			t.Fatalf("%s: a refused downgrade staged %s.next", n, install)
		}
	}
	out, stderr, code := runDcctl(t, "provision", oldInv, "--limit", limit, "--allow-downgrade")
	if code != 0 {
		t.Fatalf("provision of the older release: exit %d\n%s\n%s", code, out, stderr)
	}
	d.waitReleases(t, names, oldRelease)

	// 2. A stream in the cluster's domain, a client publishing with acks and
	// another consuming throughout.
	d.freshStream(cl.Domain, njs.StreamConfig{Name: "upgrade_drill", Subjects: []string{"upgrade_drill.>"}, Storage: njs.FileStorage, Replicas: 3}, 50)
	live := d.publishLive(cl.Domain, "upgrade_drill", "upgrade_drill.live.")
	reader := d.consume(cl.Domain, "upgrade_drill")
	live.waitAcked(t, 10)

	// 3. Upgrade to the pinned release with the runbook.
	leader := d.metaLeader(t, cl)
	before := d.unitWindows(t, names)
	start := time.Now()
	out, stderr, code = runDcctl(t, "runbook", "upgrade", "--binary", newBin, "--cluster", cl.Name, "-i", labInv, "--yes")
	if code != 0 {
		t.Fatalf("upgrade: exit %d\n%s\n%s", code, out, stderr)
	}
	t.Logf("upgrade of %d nodes: %.1fs", len(names), time.Since(start).Seconds())
	d.waitReleases(t, names, newRelease)
	checkRollout(t, "upgrade", leader, before, d.unitWindows(t, names))
	oldSum := fileSHA(t, oldBin)
	for _, n := range names {
		if got := hostSHA(t, n, install+".previous"); got != oldSum {
			t.Errorf("%s: %s.previous is not the older release (sha256 %s)", n, install, got)
		}
	}
	if !strings.Contains(out, "stream upgrade_drill proven by") {
		t.Errorf("the upgrade does not prove the drilled stream:\n%s", out)
	}
	live.waitAcked(t, 10)

	// 4. Roll back.
	leader = d.metaLeader(t, cl)
	before = d.unitWindows(t, names)
	start = time.Now()
	out, stderr, code = runDcctl(t, "runbook", "upgrade", "--rollback", "--cluster", cl.Name, "-i", labInv, "--yes")
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, out, stderr)
	}
	t.Logf("rollback of %d nodes: %.1fs", len(names), time.Since(start).Seconds())
	d.waitReleases(t, names, oldRelease)
	checkRollout(t, "rollback", leader, before, d.unitWindows(t, names))
	for _, n := range names {
		if got := hostSHA(t, n, install+".previous"); got != "absent" {
			t.Errorf("%s: %s.previous left after the rollback (a second one would swap again)", n, install)
		}
	}
	live.waitAcked(t, 10)

	// 5. Nothing acknowledged was lost; the reader got every message.
	live.check(t)
	reader.check(t, live)
	t.Logf("drill (older release, upgrade, rollback; the restore follows): %.1fs", time.Since(t0).Seconds())
}

// inventoryWithBinary is a copy of the lab inventory (and its secrets)
// whose nats.binary is bin.
func inventoryWithBinary(t *testing.T, bin string) string {
	t.Helper()
	pinned := fmt.Sprintf("binary = %q", filepath.Join(repoRoot(), "bin", "nats-server"))
	return copyInventory(t, &transcript{}, "", pinned, fmt.Sprintf("binary = %q", bin))
}

// release is what a server's own /varz says it runs.
func release(n *inventory.Node) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	code, body, err := httpGet(ctx, n.Host, n.Ports.HTTP, "/varz")
	if err != nil {
		return "", err
	}
	if code != 200 {
		return "", fmt.Errorf("/varz answered %d", code)
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", err
	}
	return v.Version, nil
}

func (d *drillLab) waitReleases(t *testing.T, nodes []string, want string) {
	t.Helper()
	for _, name := range nodes {
		n := d.inv.Node(name)
		testwait.Eventually(t, time.Minute, name+" runs "+want, func() error {
			got, err := release(n)
			if err == nil && got != want {
				err = fmt.Errorf("it runs %s", got)
			}
			return err
		})
	}
}

func (d *drillLab) metaLeader(t *testing.T, cl *inventory.Cluster) string {
	t.Helper()
	var leader string
	testwait.Eventually(t, time.Minute, "meta leader of "+cl.Domain, func() (err error) {
		for _, n := range cl.Active() {
			if leader, err = metaLeaderSeenBy(n.Host, n.Ports.HTTP); err == nil && leader != "" {
				return nil
			}
		}
		return fmt.Errorf("no meta leader seen (%v)", err)
	})
	return leader
}

// unitWindow is when a node's unit last went down and came back, on the
// kernel's monotonic clock, which every lab host shares.
type unitWindow struct {
	node        string
	exit, enter uint64
}

func (d *drillLab) unitWindows(t *testing.T, nodes []string) map[string]unitWindow {
	t.Helper()
	out := map[string]unitWindow{}
	for _, n := range nodes {
		exit, enter := unitTimes(t, n)
		out[n] = unitWindow{node: n, exit: exit, enter: enter}
	}
	return out
}

// checkRollout asserts from systemd's timestamps that every node went down
// and came back during the rollout, one at a time (no two down windows
// overlap), and that leader went last.
func checkRollout(t *testing.T, what, leader string, before, after map[string]unitWindow) {
	t.Helper()
	var ws []unitWindow
	for n, w := range after {
		if w.exit <= before[n].enter || w.enter <= w.exit {
			t.Errorf("%s: %s was not stopped and started by it (before %+v, after %+v)", what, n, before[n], w)
			continue
		}
		ws = append(ws, w)
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].exit < ws[j].exit })
	for i := 1; i < len(ws); i++ {
		if ws[i].exit < ws[i-1].enter {
			t.Errorf("%s: %s went down (%d) before %s was back (%d): two nodes of one cluster down at once", what, ws[i].node, ws[i].exit, ws[i-1].node, ws[i-1].enter)
		}
	}
	var order []string
	for _, w := range ws {
		order = append(order, w.node+"@"+strconv.FormatUint(w.exit, 10))
	}
	if len(ws) > 0 && ws[len(ws)-1].node != leader {
		t.Errorf("%s: order %v, want the meta leader %s last", what, order, leader)
	}
	t.Logf("%s order: %v (meta leader %s)", what, order, leader)
}

// liveReader is a client consuming a stream with a durable consumer and
// acking each message, as production readers do, throughout a drill.
type liveReader struct {
	stop func()
	mu   sync.Mutex
	seen map[uint64]bool
}

func (d *drillLab) consume(domain, stream string) *liveReader {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := d.js(domain).CreateOrUpdateConsumer(ctx, stream, njs.ConsumerConfig{Durable: "upgrade_drill_reader", AckPolicy: njs.AckExplicitPolicy})
	if err != nil {
		d.t.Fatalf("consumer on %s: %v", stream, err)
	}
	r := &liveReader{seen: map[uint64]bool{}}
	cc, err := cons.Consume(func(m njs.Msg) {
		if md, err := m.Metadata(); err == nil {
			r.mu.Lock()
			r.seen[md.Sequence.Stream] = true
			r.mu.Unlock()
		}
		_ = m.Ack()
	})
	if err != nil {
		d.t.Fatalf("consume %s: %v", stream, err)
	}
	r.stop = cc.Stop
	d.t.Cleanup(cc.Stop)
	return r
}

// check waits until the reader has had every message the publisher got an
// ack for.
func (r *liveReader) check(t *testing.T, p *livePublisher) {
	t.Helper()
	var want []uint64
	for seq := range p.Acked() {
		want = append(want, seq)
	}
	testwait.Eventually(t, 2*time.Minute, "the reader had every acknowledged message", func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		missing := 0
		for _, seq := range want {
			if !r.seen[seq] {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d not delivered yet", missing, len(want))
		}
		return nil
	})
	r.stop()
}
