package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/dcctl/dcctl/internal/sshtest"
	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
)

// repoBinary is a binary scripts/test.sh builds into bin/ before the tests.
func repoBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not built (scripts/test.sh builds it): %v", p, err)
	}
	return p
}

// The pinned nats-server, built from dcctl's module as scripts/test.sh does,
// and an older one installed from the module proxy: both releases are read
// without running the file.
func TestReadBinaryVersionOfRealBuilds(t *testing.T) {
	v, err := ReadBinaryVersion(repoBinary(t, "nats-server"))
	if err != nil {
		t.Fatal(err)
	}
	if v.NATS != "v"+server.VERSION || v.Release() != server.VERSION {
		t.Errorf("bin/nats-server: %+v, want nats-server v%s (the module go.mod pins)", v, server.VERSION)
	}
	if v.Main == "" || v.Go == "" {
		t.Errorf("main module %q, go %q: want both recorded", v.Main, v.Go)
	}
	old, err := ReadBinaryVersion(repoBinary(t, "nats-server-old"))
	if err != nil {
		t.Fatal(err)
	}
	if old.NATS != "v2.14.9" || old.Main != natsModule+"@v2.14.9" {
		t.Errorf("bin/nats-server-old: %+v, want v2.14.9 as the main module", old)
	}
}

// A Go program that is not nats-server, and a file that is not a Go
// program, are refused with what to do.
func TestReadBinaryVersionRefusesOtherPrograms(t *testing.T) {
	_, err := ReadBinaryVersion(buildFor(t, runtime.GOARCH))
	if err == nil || !strings.Contains(err.Error(), "is not a nats-server build") {
		t.Errorf("another Go program: %v", err)
	}
	script := filepath.Join(t.TempDir(), "nats-server")
	os.WriteFile(script, []byte(fakeNATSServer), 0o755)
	_, err = ReadBinaryVersion(script)
	if err == nil || !strings.Contains(err.Error(), "no Go build information") || !strings.Contains(err.Error(), "go install") {
		t.Errorf("a shell script: %v", err)
	}
}

func TestReleaseOrder(t *testing.T) {
	for _, c := range []struct {
		a, b        string
		cmp         int
		acrossMinor bool
	}{
		{"v2.15.2", "2.15.2", 0, false},
		{"v2.14.9", "2.15.2", -1, true},
		{"2.15.1", "v2.15.2", -1, false},
		{"2.15.0-RC.1", "2.15.0", -1, false},
		{"2.15.0-RC.2", "2.15.0-RC.1", 1, false},
		{"3.0.0", "2.99.9", 1, true},
		{"2.10.23+build.5", "2.10.23", 0, false},
	} {
		a, err := parseRelease(c.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := parseRelease(c.b)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.compare(b); got != c.cmp {
			t.Errorf("%s vs %s: %d, want %d", c.a, c.b, got, c.cmp)
		}
		if got := a.acrossMinor(b); got != c.acrossMinor {
			t.Errorf("%s vs %s across minor: %v", c.a, c.b, got)
		}
	}
	for _, bad := range []string{"", "2.15", "v2.x.1", "nats-server: v2.15.2"} {
		if _, err := parseRelease(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if got := versionWord("nats-server: v2.15.2"); got != "2.15.2" {
		t.Errorf("versionWord: %q", got)
	}
}

// upgradeSpec is a 3-node cluster, no name shared with the example.
func upgradeSpec() testcluster.Spec {
	return testcluster.Spec{AppAccount: "TENANT", AppUser: "tenant-app", SysAccount: "ADMIN", SysUser: "sre",
		Clusters: []testcluster.ClusterSpec{{Name: "RING", Domain: "ringd", Nodes: []testcluster.NodeSpec{{Name: "r-a", DC: "x"}, {Name: "r-b", DC: "x"}, {Name: "r-c", DC: "x"}}}}}
}

// The release check reads every running server's /varz: an older minor
// release is refused (and names the servers), unless allowed; an older
// patch release and a newer release pass.
func TestCheckVersionsRefusesADowngradeAcrossMinor(t *testing.T) {
	c := testcluster.Start(t, testcluster.WriteInventory(t, upgradeSpec()))
	s := NewSession(c.Inv, c.Secrets, SessionOptions{Direct: true})
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	nodes := []string{"r-a", "r-b", "r-c"}
	cur, _ := parseRelease(server.VERSION)

	older := BinaryVersion{NATS: "v2.14.9"}
	if cur.minor == 14 {
		older.NATS = "v2.13.0"
	}
	running, err := s.CheckVersions(ctx, nodes, older, false)
	var down *DowngradeError
	if !errors.As(err, &down) || len(down.Running) != 3 || !strings.Contains(err.Error(), "r-a, r-b, r-c run "+server.VERSION) || !strings.Contains(err.Error(), "--allow-downgrade") {
		t.Fatalf("downgrade to %s: %v", older.NATS, err)
	}
	if running["r-a"] != server.VERSION {
		t.Errorf("running releases %v", running)
	}
	if _, err := s.CheckVersions(ctx, nodes, older, true); err != nil {
		t.Errorf("allowed downgrade: %v", err)
	}
	for _, ok := range []string{"v" + server.VERSION, "v9.0.0"} {
		if _, err := s.CheckVersions(ctx, nodes, BinaryVersion{NATS: ok}, false); err != nil {
			t.Errorf("to %s: %v", ok, err)
		}
	}
	if cur.patch > 0 {
		patch := BinaryVersion{NATS: strings.Replace("v"+server.VERSION, "."+strconv.Itoa(cur.patch), "."+strconv.Itoa(cur.patch-1), 1)}
		if _, err := s.CheckVersions(ctx, nodes, patch, false); err != nil {
			t.Errorf("one patch back (%s): %v", patch.NATS, err)
		}
	}
}

// rolloutFixture is an in-process cluster whose nodes' "hosts" are one
// in-process sshd with a stand-in systemctl: the health gates, the step-down
// and /varz are real (the servers never stop), the swap runs its real
// script on files under a fresh root. With restage, the stand-in stages the
// next binary again after each start, so that every node finds one to swap
// in, as each of them would on a host of its own.
type rolloutFixture struct {
	c       *testcluster.Cluster
	s       *Session
	srv     *sshtest.Server
	bin     string // where systemctl's log is
	install string
}

func newRolloutFixture(t *testing.T, restage bool) *rolloutFixture {
	t.Helper()
	return newRolloutFixtureOf(t, restage, upgradeSpec())
}

func newRolloutFixtureOf(t *testing.T, restage bool, spec testcluster.Spec) *rolloutFixture {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the swap keeps the files' owners (run as root, as scripts/test.sh does)")
	}
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	dir := t.TempDir()
	keyFile, signer := sshtest.ClientKey(t, dir)
	srv := sshtest.NewServer(t, signer.PublicKey())
	knownHosts := filepath.Join(dir, "known_hosts")
	sshtest.WriteKnownHost(t, knownHosts, srv.Addr, srv.HostKeys[0].PublicKey())
	root := hostRoot(t)
	inv := c.Inv
	inv.NATS.InstallPath = filepath.Join(root, "bin/nats-server")
	inv.NATS.ConfigDir = filepath.Join(root, "etc")
	inv.NATS.Service = "dcctl-test-natsd"
	for _, n := range inv.Nodes {
		n.Host = "127.0.0.1" // the sshd's; the inventory was validated with a host per node
		n.SSH = inventory.SSH{User: "deploy", Port: srv.Port(), Key: keyFile, KnownHosts: knownHosts, Transfer: inventory.TransferSFTP}
	}
	os.MkdirAll(filepath.Dir(inv.NATS.InstallPath), 0o755)
	os.MkdirAll(inv.NATS.ConfigDir, 0o755)
	os.WriteFile(inv.NATS.InstallPath, []byte("old release\n"), 0o755)
	os.WriteFile(inv.NATS.InstallPath+NextSuffix, []byte("new release\n"), 0o755)
	systemctl := fakeSystemctl
	if restage {
		systemctl = strings.Replace(systemctl, `start) echo active > "$d/active" ;;`,
			`start) echo active > "$d/active"; printf 'new release\n' > `+shellQuote(inv.NATS.InstallPath+NextSuffix)+` ;;`, 1)
	}
	bin := srv.Command(t, "systemctl", systemctl)
	srv.Command(t, "journalctl", fakeJournalctl)
	os.WriteFile(filepath.Join(bin, "active"), []byte("active\n"), 0o644)
	s := NewSession(inv, c.Secrets, SessionOptions{Direct: true})
	t.Cleanup(func() { s.Close() })
	return &rolloutFixture{c: c, s: s, srv: srv, bin: bin, install: inv.NATS.InstallPath}
}

func (f *rolloutFixture) plans(want string) []*HostPlan {
	var out []*HostPlan
	for _, n := range f.s.Inv.Nodes {
		out = append(out, &HostPlan{Node: n, Action: ActionRestart, Upgrade: true, UpgradeTo: want, Why: []string{"binary changed"}})
	}
	return out
}

// restarted lists the nodes restarted for a config change, in order, from
// the log.
func restarted(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.Contains(l, "restarting (config changed)") {
			out = append(out, f[0])
		}
	}
	return out
}

// swapped lists the nodes whose swap ran, in order, from the log.
func swapped(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.Contains(l, "stopped (lame duck), swapped in") {
			out = append(out, f[0])
		}
	}
	return out
}

// A rollout goes one node at a time with the meta leader last, after a
// step-down that really moves the leadership; every node ends on the new
// binary with the old one kept.
func TestUpgradeRolloutLeaderLastAfterAStepDown(t *testing.T) {
	f := newRolloutFixture(t, true)
	leader := f.c.MetaLeader("ringd")
	if leader == "" {
		t.Fatal("no meta leader")
	}
	var log strings.Builder
	r := Apply(t.Context(), f.s, f.plans(server.VERSION), ApplyOptions{GateTimeout: time.Minute, Log: &log})
	if r.Failed() {
		t.Fatalf("rollout failed: %+v\n%s", r.Hosts, log.String())
	}
	order := swapped(log.String())
	if len(order) != 3 || order[2] != leader {
		t.Fatalf("swap order %v, want 3 nodes and the meta leader %s last\n%s", order, leader, log.String())
	}
	if !strings.Contains(log.String(), leader+" ") || !strings.Contains(log.String(), "stepping down first") {
		t.Errorf("no step-down of %s in the log:\n%s", leader, log.String())
	}
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, "stepping down first") && !strings.HasPrefix(l, leader+" ") {
			t.Errorf("a node other than the meta leader stepped down: %q", l)
		}
	}
	if now := f.c.MetaLeader("ringd"); now == leader {
		t.Errorf("meta leader still %s after its step-down", now)
	}
	if got, _ := os.ReadFile(f.install); string(got) != "new release\n" {
		t.Errorf("installed: %q", got)
	}
	if got := strings.Count(readFile(t, filepath.Join(f.bin, "systemctl.log")), "stop dcctl-test-natsd.service"); got != 3 {
		t.Errorf("%d stops, want 3", got)
	}
}

// A node that fails its gate after the swap (here: it does not report the
// release it should run) stops the whole rollout there: no other node is
// stopped, and the recap says where it stopped.
func TestUpgradeRolloutStopsAtTheFirstFailedGate(t *testing.T) {
	f := newRolloutFixture(t, false)
	leader := f.c.MetaLeader("ringd")
	var log strings.Builder
	r := Apply(t.Context(), f.s, f.plans("2.99.0"), ApplyOptions{GateTimeout: 2 * time.Second, Log: &log})
	if !r.Failed() {
		t.Fatalf("rollout to a release no server reports passed\n%s", log.String())
	}
	order := swapped(log.String())
	if len(order) != 1 || order[0] == leader {
		t.Fatalf("swapped %v, want only one node, not the meta leader %s\n%s", order, leader, log.String())
	}
	first := order[0]
	for _, h := range r.Hosts {
		switch {
		case h.Node == first:
			if !strings.Contains(h.Error, "does not run nats-server 2.99.0") || !strings.Contains(h.Error, "reports "+server.VERSION) {
				t.Errorf("%s: %q", h.Node, h.Error)
			}
		case !strings.Contains(h.Error, "the upgrade rollout stopped at "+first):
			t.Errorf("%s: %q, want it not touched and told where the rollout stopped", h.Node, h.Error)
		}
	}
	if got := strings.Count(readFile(t, filepath.Join(f.bin, "systemctl.log")), "stop dcctl-test-natsd.service"); got != 1 {
		t.Errorf("%d stops, want 1", got)
	}
	if got, _ := os.ReadFile(f.install + PreviousSuffix); string(got) != "old release\n" {
		t.Errorf(".previous: %q", got)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Hub clusters go before their leaves on the way up, after them on the way
// back; otherwise the inventory's order holds.
func TestUpgradeOrderHubBeforeLeaves(t *testing.T) {
	edgeA := &inventory.Cluster{Name: "edge-a", LeafOf: "core"}
	core := &inventory.Cluster{Name: "core"}
	edgeB := &inventory.Cluster{Name: "edge-b", LeafOf: "core"}
	names := func(cls []*inventory.Cluster) string {
		var out []string
		for _, cl := range cls {
			out = append(out, cl.Name)
		}
		return strings.Join(out, " ")
	}
	in := []*inventory.Cluster{edgeA, core, edgeB}
	if got := names(UpgradeOrder(in, false)); got != "core edge-a edge-b" {
		t.Errorf("upgrade order %q", got)
	}
	if got := names(UpgradeOrder(in, true)); got != "edge-a edge-b core" {
		t.Errorf("rollback order %q", got)
	}
	if got := names(in); got != "edge-a core edge-b" {
		t.Errorf("the inventory's list changed: %q", got)
	}
}

// A rolling restart for a config change restarts a cluster's meta leader
// last, even when the plans (the inventory's order) list it first: the
// cluster elects a new leader once.
func TestRollingRestartLeaderLast(t *testing.T) {
	f := newRolloutFixture(t, false)
	leader := f.c.MetaLeader("ringd")
	if leader == "" {
		t.Fatal("no meta leader")
	}
	var plans []*HostPlan
	for _, n := range f.s.Inv.Nodes {
		p := &HostPlan{Node: n, Action: ActionRestart, Why: []string{"config changed"}}
		if n.Name == leader {
			plans = append([]*HostPlan{p}, plans...)
		} else {
			plans = append(plans, p)
		}
	}
	var log strings.Builder
	r := Apply(t.Context(), f.s, plans, ApplyOptions{GateTimeout: time.Minute, Log: &log})
	if r.Failed() {
		t.Fatalf("rollout failed: %+v\n%s", r.Hosts, log.String())
	}
	order := restarted(log.String())
	if len(order) != 3 || order[2] != leader {
		t.Fatalf("restart order %v, want 3 nodes and the meta leader %s last\n%s", order, leader, log.String())
	}
}

// A config change that restarts a hub's nodes and its leaf cluster's rolls
// the leaf cluster after the hub's rollout ended: a leaf node restarted
// while the hub's nodes restart would link to a hub node the remote lists
// later (in another DC) and stay there.
func TestRollingRestartLeavesAfterTheirHub(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "TENANT", AppUser: "tenant-app", SysAccount: "ADMIN", SysUser: "sre",
		Clusters: []testcluster.ClusterSpec{
			{Name: "SPOKE", Domain: "spoked", LeafOf: "RING", Nodes: []testcluster.NodeSpec{{Name: "s-a", DC: "x"}, {Name: "s-b", DC: "x"}, {Name: "s-c", DC: "x"}}},
			{Name: "RING", Domain: "ringd", Nodes: []testcluster.NodeSpec{{Name: "r-a", DC: "x"}, {Name: "r-b", DC: "x"}, {Name: "r-c", DC: "x"}}},
		}}
	f := newRolloutFixtureOf(t, false, spec)
	var plans []*HostPlan
	for _, n := range f.s.Inv.Nodes {
		plans = append(plans, &HostPlan{Node: n, Action: ActionRestart, Why: []string{"config changed"}})
	}
	var log strings.Builder
	r := Apply(t.Context(), f.s, plans, ApplyOptions{GateTimeout: time.Minute, Log: &log})
	if r.Failed() {
		t.Fatalf("rollout failed: %+v\n%s", r.Hosts, log.String())
	}
	order := restarted(log.String())
	if len(order) != 6 {
		t.Fatalf("restarted %v, want the 6 nodes\n%s", order, log.String())
	}
	for i, n := range order {
		if hub := strings.HasPrefix(n, "r-"); hub != (i < 3) {
			t.Fatalf("restart order %v, want the hub's three (r-*) before its leaves (s-*)\n%s", order, log.String())
		}
	}
}

// TestDowngradeRefusalGroupsServers: the refusal of a downgrade on a
// 17-server deployment named every server ("core-a1 runs 2.15.2, core-a2
// runs 2.15.2, ..." 17 times, printed twice; an outside audit): it names each
// release once, with a few of its servers and the count of the rest.
func TestDowngradeRefusalGroupsServers(t *testing.T) {
	running := map[string]string{"edge_s9": "2.15.1"}
	for i := 1; i <= 16; i++ {
		running[fmt.Sprintf("core-%02d", i)] = "2.15.2"
	}
	got := (&DowngradeError{To: "2.14.9", Running: running}).Error()
	want := "a downgrade across minor releases (edge_s9 runs 2.15.1; 16 servers run 2.15.2: core-01, core-02, core-03, core-04 and 12 more)"
	if !strings.Contains(got, want) || strings.Contains(got, "core-05") {
		t.Errorf("got %q\nwant it to say %q", got, want)
	}
}
