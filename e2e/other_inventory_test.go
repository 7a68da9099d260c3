package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/provision"
	"github.com/dcctl/dcctl/status"
)

// TestOtherInventory runs dcctl on a deployment unlike inventory/example.toml,
// on the same lab hosts: binary and config under directories a fresh host
// does not have, another service, unit user, accounts, cluster names and
// ports, a 5-node backbone over both DCs, and a non-root SSH user with sudo.
// Nothing dcctl does may depend on the example's names, sizes or paths.
//
// It shares the hosts with the example's tests: everything it installs is
// apart from theirs (other unit, ports and directories), and its cleanup
// stops and removes all of it and puts /opt back as it found it, so the
// tests after it find the hosts as TestMain left them.
func TestOtherInventory(t *testing.T) {
	o := newOtherDeployment(t)

	if !t.Run("validate", func(t *testing.T) {
		out, stderr, code := runDcctl(t, "validate", o.inv)
		if code != 0 {
			t.Fatalf("validate: exit %d\n%s%s", code, out, stderr)
		}
	}) {
		return
	}

	if !t.Run("provision fresh", func(t *testing.T) {
		r := o.provision(t)
		for _, h := range r.Hosts {
			if h.Status != provision.StatusChanged {
				t.Errorf("%s: %s %s", h.Node, h.Status, h.Error)
			}
			// The binary's directory did not exist: provision says it creates it.
			if !slices.Contains(h.Changes, "create dir /opt/acme/nats/bin") {
				t.Errorf("%s: changes %v lack creating /opt/acme/nats/bin", h.Node, h.Changes)
			}
		}
		o.checkHosts(t)
	}) {
		return
	}

	t.Run("provision again changes nothing", func(t *testing.T) {
		r := o.provision(t)
		for _, h := range r.Hosts {
			if h.Status != provision.StatusOK {
				t.Errorf("%s: %s %v %s", h.Node, h.Status, h.Changes, h.Error)
			}
		}
	})

	if !t.Run("status", func(t *testing.T) { o.checkStatus(t) }) {
		return
	}

	t.Run("kill a backbone node, replace-peer, restore-node", func(t *testing.T) { o.drill(t) })
}

// otherNode is one node of the other deployment and the lab host it runs on.
type otherNode struct {
	Name, Cluster, Domain, DC, Host string
}

type otherDeployment struct {
	inv   string // inventory file
	nodes []otherNode
	// optBefore is each host's /opt ("mode user group") before the test.
	optBefore map[string]string
	// lockDirBefore: the host had /run/dcctl (the deployment lock's
	// directory, shared with any other deployment) before the test.
	lockDirBefore map[string]bool
}

const (
	otherClientPort  = 14222
	otherClusterPort = 16222
	otherLeafPort    = 17422
	otherHTTPPort    = 18222
	// /opt is made 0711 root:adm before provision: an existing parent
	// directory provision must leave exactly as it is.
	otherOptMode = "711 root adm"
)

// newOtherDeployment places the other deployment on the lab's hosts and
// writes its inventory. The lab's DCs are its subnets: the larger one gets
// three backbone nodes and a leaf cluster, the other two backbone nodes and
// a leaf cluster, so that each leaf cluster stays in one DC.
func newOtherDeployment(t *testing.T) *otherDeployment {
	t.Helper()
	byDC := map[string][]labNode{}
	for _, n := range labNodes(t) {
		byDC[n.DC] = append(byDC[n.DC], n)
	}
	var dcs []string
	for dc := range byDC {
		dcs = append(dcs, dc)
	}
	sort.Slice(dcs, func(i, j int) bool { return len(byDC[dcs[i]]) > len(byDC[dcs[j]]) })
	if len(dcs) != 2 || len(byDC[dcs[0]]) < 6 || len(byDC[dcs[1]]) < 5 {
		t.Fatalf("the lab needs 6 hosts in one DC and 5 in the other, has %d DCs", len(dcs))
	}
	sites := []struct {
		name  string // the DC's name in this inventory
		hosts []labNode
		core  int // backbone nodes in this DC
	}{{"fra", byDC[dcs[0]], 3}, {"iad", byDC[dcs[1]], 2}}
	o := &otherDeployment{optBefore: map[string]string{}, lockDirBefore: map[string]bool{}}
	for _, s := range sites {
		for i := 0; i < s.core; i++ {
			o.nodes = append(o.nodes, otherNode{fmt.Sprintf("core_%s_%d", s.name, i+1), "CORE", "central", s.name, s.hosts[i].Host})
		}
		for i := 0; i < 3; i++ {
			o.nodes = append(o.nodes, otherNode{fmt.Sprintf("edge_%s_%d", s.name, i+1), "EDGE_" + strings.ToUpper(s.name), "edge" + s.name, s.name, s.hosts[s.core+i].Host})
		}
	}

	lab := filepath.Join(repoRoot(), "lab")
	var b strings.Builder
	fmt.Fprintf(&b, `# e2e: a deployment unlike inventory/example.toml (see TestOtherInventory)
[defaults]
ssh_user = "deploy"
sudo = true
ssh_key = %q
known_hosts = %q
client_port = %d
cluster_port = %d
leafnode_port = %d
http_port = %d

[nats]
binary = %q
install_path = "/opt/acme/nats/bin/nats-server"
config_dir = "/etc/acme/nats"
store_dir = "/srv/acme/nats-data"
service = "natsd"
user = "natsd"
sync_interval = "always"
max_memory_store = "64MB"
max_file_store = "512MB"

[accounts.ORDERS]
jetstream = true
users = ["orders_svc", "orders_audit"]

[accounts.OPS]
system = true
users = ["opsroot"]

[clusters.CORE]
domain = "central"

[clusters.EDGE_FRA]
domain = "edgefra"
leaf_of = "CORE"

[clusters.EDGE_IAD]
domain = "edgeiad"
leaf_of = "CORE"
`, filepath.Join(lab, "id_ed25519"), filepath.Join(lab, "known_hosts"), otherClientPort, otherClusterPort, otherLeafPort, otherHTTPPort,
		filepath.Join(repoRoot(), "bin", "nats-server"))
	for _, n := range o.nodes {
		fmt.Fprintf(&b, "\n[nodes.%s]\ncluster = %q\ndc = %q\nhost = %q\n", n.Name, n.Cluster, n.DC, n.Host)
	}
	o.inv = filepath.Join(t.TempDir(), "acme.toml")
	if err := os.WriteFile(o.inv, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	// Fresh hosts: none of the other deployment's paths exist. /opt gets a
	// mode and group of its own, put back by the cleanup.
	for node, out := range o.onHosts(t, func(otherNode) string {
		return "stat -c '%a %U %G' /opt; test -d /run/dcctl && echo lockdir yes || echo lockdir no; for p in /opt/acme /etc/acme /srv/acme /etc/systemd/system/natsd.service; do test ! -e $p || echo exists $p; done; " +
			"chown root:adm /opt && chmod 0711 /opt"
	}) {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 2 {
			t.Fatalf("%s: unexpected answer %q", node, out)
		}
		o.optBefore[node], o.lockDirBefore[node] = lines[0], lines[1] == "lockdir yes"
		if len(lines) > 2 {
			t.Fatalf("%s is not fresh: %v", node, lines[2:])
		}
	}
	t.Cleanup(func() { o.cleanup(t) })
	return o
}

// onHosts runs the command cmd gives for each node as root on its host, all
// hosts at once, and returns the outputs by node; a failure fails the test.
func (o *otherDeployment) onHosts(t *testing.T, cmd func(otherNode) string) map[string]string {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	outs, errs := map[string]string{}, []string{}
	for _, n := range o.nodes {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err := trySSH(ctx, "root", n.Host, cmd(n))
			mu.Lock()
			defer mu.Unlock()
			outs[n.Name] = out
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", n.Name, err))
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		sort.Strings(errs)
		t.Fatal(strings.Join(errs, "\n"))
	}
	return outs
}

// cleanup stops and removes everything the other deployment put on the
// hosts and checks that nothing of it is left.
func (o *otherDeployment) cleanup(t *testing.T) {
	outs := o.onHosts(t, func(n otherNode) string {
		before := strings.Fields(o.optBefore[n.Name])
		restore := "true"
		if !o.lockDirBefore[n.Name] {
			restore = "rm -rf /run/dcctl"
		}
		if len(before) == 3 {
			restore += fmt.Sprintf(" && chown %s:%s /opt && chmod %s /opt", before[1], before[2], before[0])
		}
		// SIGKILL first: a stop goes through lame duck mode (30 s and more).
		return "systemctl kill -s KILL natsd.service >/dev/null 2>&1; systemctl disable --now natsd.service >/dev/null 2>&1; " +
			"systemctl reset-failed natsd.service >/dev/null 2>&1; rm -f /etc/systemd/system/natsd.service && systemctl daemon-reload && " +
			"rm -rf /opt/acme /etc/acme /srv/acme && { ! id -u natsd >/dev/null 2>&1 || userdel natsd; } && " + restore + " && " +
			"stat -c '%a %U %G' /opt; systemctl is-active natsd.service || true; ls -d /opt/acme /etc/acme /srv/acme 2>/dev/null || true"
	})
	for node, out := range outs {
		if want := o.optBefore[node] + "\ninactive"; strings.TrimSpace(out) != want {
			t.Errorf("%s after cleanup: %q, want %q", node, strings.TrimSpace(out), want)
		}
	}
}

// provision runs `dcctl provision --json` and returns its recap.
func (o *otherDeployment) provision(t *testing.T) *provision.Recap {
	t.Helper()
	out, stderr, code := runDcctl(t, "provision", o.inv, "--json")
	var r provision.Recap
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
		t.Fatalf("provision: exit %d, %v\n%s\n%s", code, err, out, stderr)
	}
	if len(r.Hosts) != len(o.nodes) {
		t.Fatalf("recap of %d hosts, want %d", len(r.Hosts), len(o.nodes))
	}
	return &r
}

// checkHosts asks every host, as root, where the files went, who owns the
// directories and who runs the server.
func (o *otherDeployment) checkHosts(t *testing.T) {
	t.Helper()
	dirs := []string{"/opt", "/opt/acme", "/opt/acme/nats/bin", "/etc/acme", "/etc/acme/nats", "/srv/acme", "/srv/acme/nats-data"}
	want := []string{otherOptMode, "755 root root", "755 root root", "755 root root", "750 root natsd", "755 root root", "750 natsd natsd"}
	outs := o.onHosts(t, func(otherNode) string {
		return "for d in " + strings.Join(dirs, " ") + "; do stat -c '%a %U %G' $d; done; " +
			"test -x /opt/acme/nats/bin/nats-server && test -f /etc/acme/nats/nats-server.conf && echo files; " +
			"systemctl is-active natsd.service; ps -o user= -p \"$(systemctl show -p MainPID --value natsd.service)\""
	})
	for _, n := range o.nodes {
		got := strings.Split(strings.TrimSpace(outs[n.Name]), "\n")
		if len(got) != len(dirs)+3 {
			t.Errorf("%s: unexpected answer %q", n.Name, outs[n.Name])
			continue
		}
		for i, d := range dirs {
			if got[i] != want[i] {
				t.Errorf("%s: %s is %q, want %q", n.Name, d, got[i], want[i])
			}
		}
		if tail := got[len(dirs):]; tail[0] != "files" || tail[1] != "active" || strings.TrimSpace(tail[2]) != "natsd" {
			t.Errorf("%s: files, unit and process user: %q, want files, active, natsd", n.Name, tail)
		}
	}
}

// otherJsz is one server's own view of its JetStream domain and meta group.
type otherJsz struct {
	Config struct {
		Domain string `json:"domain"`
	} `json:"config"`
	Meta *struct {
		Leader   string `json:"leader"`
		Size     int    `json:"cluster_size"`
		Replicas []struct {
			Name    string `json:"name"`
			Current bool   `json:"current"`
			Offline bool   `json:"offline"`
		} `json:"replicas"`
	} `json:"meta_cluster"`
}

func otherServerJsz(n otherNode) (*otherJsz, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	code, body, err := httpGet(ctx, n.Host, otherHTTPPort, "/jsz")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("%s /jsz answered %d", n.Name, code)
	}
	var j otherJsz
	if err := json.Unmarshal(body, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// metaWhole checks every server of cluster cl reports domain, a meta group
// of its cluster's size with every peer current, and the same leader.
func (o *otherDeployment) metaWhole(cl string) error {
	var members []otherNode
	for _, n := range o.nodes {
		if n.Cluster == cl {
			members = append(members, n)
		}
	}
	leaders := map[string]bool{}
	for _, n := range members {
		j, err := otherServerJsz(n)
		switch {
		case err != nil:
			return err
		case j.Config.Domain != n.Domain:
			return fmt.Errorf("%s: domain %q, want %q", n.Name, j.Config.Domain, n.Domain)
		case j.Meta == nil || j.Meta.Leader == "":
			return fmt.Errorf("%s: no meta leader", n.Name)
		case j.Meta.Size != len(members):
			return fmt.Errorf("%s: meta group of %d, want %d", n.Name, j.Meta.Size, len(members))
		}
		if n.Name == j.Meta.Leader {
			if len(j.Meta.Replicas) != len(members)-1 {
				return fmt.Errorf("meta leader %s has %d followers, want %d", n.Name, len(j.Meta.Replicas), len(members)-1)
			}
			for _, r := range j.Meta.Replicas {
				if !r.Current || r.Offline {
					return fmt.Errorf("meta leader %s: follower %s current=%v offline=%v", n.Name, r.Name, r.Current, r.Offline)
				}
			}
		}
		leaders[j.Meta.Leader] = true
	}
	if len(leaders) != 1 {
		return fmt.Errorf("cluster %s: servers name different meta leaders %v", cl, leaders)
	}
	return nil
}

// checkStatus runs `dcctl status` once and compares it with the servers' own
// /jsz: three domains, the backbone's meta group of 5, each edge server
// linked to the backbone for both accounts (/leafz).
func (o *otherDeployment) checkStatus(t *testing.T) {
	t.Helper()
	// Right after provision: provision is done when the topology works.
	out, stderr, code := runDcctl(t, "status", o.inv, "--json")
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("status --json: exit %d, %v: %s", code, err, stderr)
	}
	if code != 0 || !r.Healthy {
		t.Fatalf("status right after provision: exit %d, warnings %+v", code, r.Warnings)
	}
	sizes := map[string]int{}
	for _, d := range r.Domains {
		sizes[d.Name] = d.ClusterSize
	}
	if want := map[string]int{"central": 5, "edgefra": 3, "edgeiad": 3}; fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Errorf("dcctl status domains %v, want %v", sizes, want)
	}
	for _, cl := range []string{"CORE", "EDGE_FRA", "EDGE_IAD"} {
		if err := o.metaWhole(cl); err != nil {
			t.Errorf("servers' own view: %v", err)
		}
	}
	for _, n := range o.nodes {
		if n.Cluster == "CORE" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		code, body, err := httpGet(ctx, n.Host, otherHTTPPort, "/leafz")
		cancel()
		var lz struct {
			Leafs []struct {
				Account string `json:"account"`
			} `json:"leafs"`
		}
		if err == nil && code == http.StatusOK {
			err = json.Unmarshal(body, &lz)
		}
		accounts := map[string]bool{}
		for _, l := range lz.Leafs {
			accounts[l.Account] = true
		}
		if err != nil || !accounts["ORDERS"] || !accounts["OPS"] {
			t.Errorf("%s /leafz: leafnode links for accounts %v (%v), want ORDERS and OPS", n.Name, accounts, err)
		}
	}
}

// drill kills the backbone leader of an R3 stream, moves its replica with
// replace-peer (a 5-node backbone has servers to spare) and brings the node
// back with restore-node, all as the sudo user, while a client publishes
// with acks throughout; the data and the meta group are judged by the
// servers.
func (o *otherDeployment) drill(t *testing.T) {
	d := openDrillLab(t, o.inv)
	d.freshStream("central", njs.StreamConfig{Name: "ORDER_EVENTS", Subjects: []string{"orders.>"}, Storage: njs.FileStorage, Replicas: 3}, 100)
	live := d.publishLive("central", "ORDER_EVENTS", "orders.live.")
	live.waitAcked(t, 10)
	si, err := d.info("central", "ORDER_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	dead := si.Cluster.Leader
	if _, stderr, code := runDcctl(t, "node", "kill", dead, "-i", o.inv, "--yes"); code != 0 {
		t.Fatalf("node kill %s: exit %d: %s", dead, code, stderr)
	}
	live.waitAcked(t, 10) // a new stream leader takes the writes
	before := d.content("central", "ORDER_EVENTS")
	if _, stderr, code := runDcctl(t, "runbook", "replace-peer", dead, "-i", o.inv, "--yes"); code != 0 {
		t.Fatalf("replace-peer %s: exit %d: %s", dead, code, stderr)
	}
	testwait.Eventually(t, time.Minute, "ORDER_EVENTS on 3 current replicas without "+dead, func() error {
		got, err := d.replicas("central", "ORDER_EVENTS")
		if err == nil && (len(got) != 3 || slices.Contains(got, dead)) {
			err = fmt.Errorf("replicas %v", got)
		}
		return err
	})
	if after := d.contentUpTo("central", "ORDER_EVENTS", before.LastSeq); after != before {
		t.Fatalf("ORDER_EVENTS changed up to seq %d: before %+v, after %+v", before.LastSeq, before, after)
	}
	if _, stderr, code := runDcctl(t, "runbook", "restore-node", dead, "-i", o.inv, "--yes"); code != 0 {
		t.Fatalf("restore-node %s: exit %d: %s", dead, code, stderr)
	}
	testwait.Eventually(t, 90*time.Second, "the backbone's meta group whole again", func() error { return o.metaWhole("CORE") })
	live.waitAcked(t, 5)
	live.check(t)
}
