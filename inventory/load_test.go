package inventory_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

const base = `
[defaults]
ssh_user = "root"

[nats]
binary = "bin/nats-server"

[accounts.APP]
jetstream = true
users = ["app"]

[accounts.SYS]
system = true
users = ["admin"]

[clusters.HUB]
domain = "hub"

[clusters.LEAF]
domain = "leaf"
leaf_of = "HUB"

[nodes.h1]
cluster = "HUB"
dc = "a"
host = "10.0.0.1"

[nodes.h2]
cluster = "HUB"
dc = "b"
host = "10.0.0.2"

[nodes.h3]
cluster = "LEAF"
dc = "b"
host = "10.0.0.3"

[nodes.l1]
cluster = "LEAF"
dc = "a"
host = "10.0.0.4"
`

// withNATS adds lines to base's [nats] table, from line 7 on.
func withNATS(lines string) string {
	return strings.Replace(base, `binary = "bin/nats-server"`, "binary = \"bin/nats-server\"\n"+lines, 1)
}

func writeInv(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "inv.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBaseIsValid(t *testing.T) {
	inv, err := inventory.Load(writeInv(t, base))
	if err != nil {
		t.Fatal(err)
	}
	if got := inv.Node("h1").SSH.Port; got != 22 {
		t.Errorf("default ssh_port = %d", got)
	}
	if got := inv.NATS.Binary; got != filepath.Join(inv.Dir, "bin/nats-server") {
		t.Errorf("binary not resolved against the inventory dir: %s", got)
	}
	home, _ := os.UserHomeDir()
	if got := inv.Node("h1").SSH.Key; got != filepath.Join(home, ".ssh/id_ed25519") {
		t.Errorf("~ not expanded: %s", got)
	}
	if got := inv.Node("l1").Listen; got != "10.0.0.4" {
		t.Errorf("listen defaults to host, got %q", got)
	}
}

func TestPerNodeOverride(t *testing.T) {
	inv, err := inventory.Load(writeInv(t, base+"ssh_port = 2222\nclient_port = 4333\nsudo = true\nssh_user = \"deploy\"\ntransfer = \"exec\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	l1, h1 := inv.Node("l1"), inv.Node("h1")
	if l1.SSH.Port != 2222 || l1.Ports.Client != 4333 || !l1.SSH.Sudo || l1.SSH.User != "deploy" || l1.SSH.Transfer != "exec" {
		t.Errorf("override not applied: %+v %+v", l1.SSH, l1.Ports)
	}
	if h1.SSH.Port != 22 || h1.Ports.Client != 4222 || h1.SSH.Sudo || h1.SSH.Transfer != "sftp" {
		t.Errorf("override leaked to another node: %+v %+v", h1.SSH, h1.Ports)
	}
}

// TestBrokenInventories: each mistake is reported with the key path, what is
// wrong, and the line where it stands.
func TestBrokenInventories(t *testing.T) {
	cases := []struct {
		name, text, key, msg string
		line                 int
	}{
		{"unknown top-level key", base + "\n[extras]\nx = 1\n", "extras", "unknown key", 0},
		{"unknown node key", base + "clutser = \"HUB\"\n", "nodes.l1.clutser", "unknown key", 42},
		{"unknown defaults key", strings.Replace(base, `ssh_user = "root"`, `ssh_usr = "root"`, 1), "defaults.ssh_usr", "unknown key", 3},
		{"unknown nats key", strings.Replace(base, `binary =`, "bynary = \"x\"\nbinary =", 1), "nats.bynary", "unknown key", 6},
		{"wrong type port", base + "client_port = \"4222\"\n", "nodes.l1.client_port", "must be an integer", 42},
		{"wrong type sudo", base + "sudo = \"yes\"\n", "nodes.l1.sudo", "must be true or false", 42},
		{"bad transfer", base + "transfer = \"scp\"\n", "nodes.l1.transfer", `must be "sftp" or "exec", not "scp"`, 42},
		{"bad transfer in defaults", strings.Replace(base, `ssh_user = "root"`, "ssh_user = \"root\"\ntransfer = \"rsync\"", 1), "defaults.transfer", `not "rsync"`, 4},
		{"server tag with a space", base + "server_tags = [\"ssd fast\"]\n", "nodes.l1.server_tags", `tag "ssd fast" must start with a letter or digit`, 42},
		{"server tag not a string", strings.Replace(base, `ssh_user = "root"`, "ssh_user = \"root\"\nserver_tags = [1]", 1), "defaults.server_tags", "element 1 must be a string", 4},
		{"dc tag by hand", base + "server_tags = [\"DC:b\"]\n", "nodes.l1.server_tags", "dc: tags come from the node's dc (l1 gets dc:a)", 42},
		{"dcs differing in case", strings.Replace(base, "dc = \"a\"\nhost = \"10.0.0.4\"", "dc = \"B\"\nhost = \"10.0.0.4\"", 1), "nodes.l1.dc", `"B" differs from "b" only in case`, 40},
		{"wrong type users", strings.Replace(base, `users = ["app"]`, `users = "app"`, 1), "accounts.APP.users", "must be a list of strings", 10},
		{"wrong type jetstream", strings.Replace(base, "jetstream = true", `jetstream = "yes"`, 1), "accounts.APP.jetstream", "must be true or false", 9},
		{"syntax error", base + "host = \n", "nodes.l1.host", "TOML syntax error", 42},
		{"unterminated table", strings.Replace(base, "[clusters.LEAF]", "[clusters.LEAF", 1), "clusters.LEAF", "TOML syntax error", 19},
		{"unterminated string", strings.Replace(base, `domain = "leaf"`, `domain = "leaf`, 1), "clusters.LEAF.domain", "TOML syntax error", 20},
		{"duplicate server name", base + "\n[nodes.l1]\ncluster = \"LEAF\"\n", "nodes.l1", "has already been defined", 43},
		{"server names differing in case", base + "\n[nodes.L1]\ncluster = \"LEAF\"\ndc = \"a\"\nhost = \"10.0.0.9\"\n", "nodes.l1", "only in case", 0},
		{"two nodes one address:port", base + "\n[nodes.l2]\ncluster = \"LEAF\"\ndc = \"a\"\nhost = \"10.0.0.5\"\nlisten = \"10.0.0.4\"\n", "nodes.l2.listen", "node l2 binds 10.0.0.4 on the same ports as node l1: 4222 (client_port), 6222 (cluster_port), 7422 (leafnode_port) and 8222 (http_port): every listener", 47},
		{"a second node on a host, on every interface", base + "\n[nodes.l2]\ncluster = \"LEAF\"\ndc = \"a\"\nhost = \"10.0.0.4\"\nlisten = \"0.0.0.0\"\n", "nodes.l2.host", "node l1 runs on 10.0.0.4 already (SSH port 22): one host runs one node", 46},
		{"two nodes on every interface of one host", base + "listen = \"0.0.0.0\"\n\n[nodes.l2]\ncluster = \"LEAF\"\ndc = \"a\"\nhost = \"10.0.0.4\"\nlisten = \"::\"\n", "nodes.l2.host", "node l1 runs on 10.0.0.4 already", 0},
		{"a second node on a host, on other ports", base + "\n[nodes.l2]\ncluster = \"HUB\"\ndc = \"a\"\nhost = \"10.0.0.4\"\nclient_port = 5222\ncluster_port = 6333\nleafnode_port = 7333\nhttp_port = 8333\n", "nodes.l2.host", "the unit nats-server.service, config_dir /etc/nats and store_dir /var/lib/nats are set once in [nats]: l2's would replace l1's, whatever their ports or listen addresses; give l2 a host of its own", 46},
		{"one port of another node's", base + "\n[nodes.l2]\ncluster = \"LEAF\"\ndc = \"a\"\nhost = \"10.0.0.5\"\nlisten = \"10.0.0.4\"\ncluster_port = 6333\nleafnode_port = 7333\nhttp_port = 8333\n", "nodes.l2.client_port", "10.0.0.4:4222 is already used by node l1", 0},
		{"node ports collide", base + "http_port = 4222\n", "nodes.l1.http_port", "also this node's client_port", 42},
		{"unknown cluster", strings.Replace(base, "cluster = \"LEAF\"\ndc = \"a\"", "cluster = \"LEEF\"\ndc = \"a\"", 1), "nodes.l1.cluster", `names cluster "LEEF", which is not defined`, 39},
		{"missing cluster", strings.Replace(base, "cluster = \"LEAF\"\ndc = \"a\"", "dc = \"a\"", 1), "nodes.l1.cluster", "missing", 38},
		{"leaf_of missing cluster", strings.Replace(base, `leaf_of = "HUB"`, `leaf_of = "NOPE"`, 1), "clusters.LEAF.leaf_of", `names cluster "NOPE"`, 21},
		{"leaf_of a leaf cluster", base + "\n[clusters.SUB]\ndomain = \"sub\"\nleaf_of = \"LEAF\"\n[nodes.s1]\ncluster = \"SUB\"\ndc = \"a\"\nhost = \"10.0.0.5\"\n", "clusters.SUB.leaf_of", "itself a leaf of HUB", 0},
		{"leaf_of itself", strings.Replace(base, `leaf_of = "HUB"`, `leaf_of = "LEAF"`, 1), "clusters.LEAF.leaf_of", "leaf of itself", 21},
		{"two clusters one domain", strings.Replace(base, `domain = "leaf"`, `domain = "hub"`, 1), "clusters.LEAF.domain", "already the domain of cluster HUB", 20},
		{"missing domain", strings.Replace(base, "domain = \"leaf\"\n", "", 1), "clusters.LEAF.domain", "missing", 19},
		{"bad domain", strings.Replace(base, `domain = "leaf"`, `domain = "le.af"`, 1), "clusters.LEAF.domain", "only letters, digits", 20},
		{"no system account", strings.Replace(base, "system = true", "system = false", 1), "accounts", "no system account", 0},
		{"two system accounts", strings.Replace(base, "jetstream = true", "system = true", 1), "accounts.SYS.system", "two system accounts", 0},
		{"system account with jetstream", strings.Replace(base, "system = true", "system = true\njetstream = true", 1), "accounts.SYS.jetstream", "cannot have JetStream", 0},
		{"jetstream account without users", strings.Replace(base, `users = ["app"]`, `users = []`, 1), "accounts.APP.users", "no users", 10},
		{"no jetstream account", strings.Replace(base, "jetstream = true", "jetstream = false", 1), "accounts", "jetstream = true", 0},
		{"user in two accounts", strings.Replace(base, `users = ["admin"]`, `users = ["app"]`, 1), "accounts.SYS.users", "already a user of account APP", 14},
		{"port 70000", base + "client_port = 70000\n", "nodes.l1.client_port", "out of range", 42},
		{"port 0 in defaults", strings.Replace(base, `ssh_user = "root"`, "ssh_user = \"root\"\nhttp_port = 0", 1), "defaults.http_port", "out of range", 4},
		{"empty host", strings.Replace(base, `host = "10.0.0.4"`, `host = ""`, 1), "nodes.l1.host", "missing or empty", 41},
		{"missing dc", strings.Replace(base, "dc = \"a\"\nhost = \"10.0.0.4\"", "host = \"10.0.0.4\"", 1), "nodes.l1.dc", "missing", 0},
		{"cluster of one node", base + "\n[clusters.SOLO]\ndomain = \"solo\"\nleaf_of = \"HUB\"\n[nodes.s1]\ncluster = \"SOLO\"\ndc = \"a\"\nhost = \"10.0.0.5\"\n[nodes.s2]\ncluster = \"SOLO\"\ndc = \"a\"\nhost = \"10.0.0.6\"\nstandby = true\n", "clusters.SOLO", "a cluster of 1 node never elects a JetStream meta leader", 0},
		{"cluster without nodes", base + "\n[clusters.EMPTY]\ndomain = \"empty\"\n", "clusters.EMPTY", "no nodes", 0},
		{"bad sync_interval", strings.Replace(base, `binary = "bin/nats-server"`, "binary = \"bin/nats-server\"\nsync_interval = \"sometimes\"", 1), "nats.sync_interval", `"always" or a duration`, 7},
		{"relative store_dir", strings.Replace(base, `binary = "bin/nats-server"`, "binary = \"bin/nats-server\"\nstore_dir = \"data\"", 1), "nats.store_dir", "absolute path", 7},
		{"bad size", strings.Replace(base, `binary = "bin/nats-server"`, "binary = \"bin/nats-server\"\nmax_file_store = \"lots\"", 1), "nats.max_file_store", "must be a size", 7},
		{"short lame duck", strings.Replace(base, `binary = "bin/nats-server"`, "binary = \"bin/nats-server\"\nlame_duck_duration = \"5s\"", 1), "nats.lame_duck_duration", "at least 30s", 7},
		{"bad server name", base + "\n[nodes.\"bad name\"]\ncluster = \"LEAF\"\ndc = \"a\"\nhost = \"10.0.0.8\"\n", `nodes."bad name"`, "server name", 0},
		// A name that is not a bare key is quoted as TOML writes it: a dot in
		// it would otherwise read as one more level.
		{"dotted cluster name", strings.ReplaceAll(strings.Replace(strings.Replace(base, "[clusters.LEAF]", `[clusters."EDGE.AMS"]`, 1), `leaf_of = "HUB"`, `leaf_of = "NOPE"`, 1), `cluster = "LEAF"`, `cluster = "EDGE.AMS"`), `clusters."EDGE.AMS".leaf_of`, `names cluster "NOPE"`, 21},
		{"dotted node name", strings.Replace(base, "[nodes.l1]", `[nodes.'ams.edge.1']`, 1) + "client_port = 70000\n", `nodes."ams.edge.1".client_port`, "out of range", 42},
		{"quote in node name", strings.Replace(base, "[nodes.l1]", `[nodes.'a"b']`, 1), `nodes."a\"b"`, "server name", 38},
		// Paths on the hosts.
		{"config_dir /etc", withNATS(`config_dir = "/etc"`), "nats.config_dir", "directory the system or other software owns", 7},
		{"store_dir /var/lib", withNATS(`store_dir = "/var/lib"`), "nats.store_dir", "directory the system or other software owns", 7},
		{"store_dir /srv", withNATS(`store_dir = "/srv"`), "nats.store_dir", "directory the system or other software owns", 7},
		{"store_dir /", withNATS(`store_dir = "/"`), "nats.store_dir", "directory the system or other software owns", 7},
		{"config_dir /usr/local/bin", withNATS(`config_dir = "/usr/local/bin"`), "nats.config_dir", "directory the system or other software owns", 7},
		{"install_path a system dir", withNATS(`install_path = "/usr/local/bin"`), "nats.install_path", "name the binary's file", 7},
		{"store_dir under /home", withNATS(`store_dir = "/home/nats/store"`), "nats.store_dir", "ProtectHome=true", 7},
		{"store_dir under /tmp", withNATS(`store_dir = "/tmp/nats"`), "nats.store_dir", "PrivateTmp=true", 7},
		{"config_dir under /run", withNATS(`config_dir = "/run/nats"`), "nats.config_dir", "emptied at every boot", 7},
		{"install_path under /root", withNATS(`install_path = "/root/bin/nats-server"`), "nats.install_path", "ProtectHome=true", 7},
		{"relative config_dir", withNATS(`config_dir = "etc/nats"`), "nats.config_dir", "absolute path", 7},
		{"relative install_path", withNATS(`install_path = "nats-server"`), "nats.install_path", "absolute path", 7},
		{"store_dir trailing slash", withNATS(`store_dir = "/var/lib/nats/"`), "nats.store_dir", `as "/var/lib/nats"`, 7},
		{"store_dir with ..", withNATS(`store_dir = "/var/lib/nats/../.."`), "nats.store_dir", `as "/var"`, 7},
		{"store_dir equals config_dir", withNATS("config_dir = \"/srv/nats\"\nstore_dir = \"/srv/nats\""), "nats.store_dir", "also config_dir", 8},
		{"store_dir inside config_dir", withNATS("config_dir = \"/srv/nats\"\nstore_dir = \"/srv/nats/js\""), "nats.store_dir", "inside config_dir", 8},
		{"config_dir inside store_dir", withNATS("config_dir = \"/srv/nats/etc\"\nstore_dir = \"/srv/nats\""), "nats.config_dir", "inside store_dir", 7},
		{"install_path inside store_dir", withNATS(`install_path = "/var/lib/nats/nats-server"`), "nats.install_path", `inside store_dir "/var/lib/nats"`, 7},
		{"install_path inside config_dir", withNATS("config_dir = \"/opt/nats\"\ninstall_path = \"/opt/nats/bin/nats-server\""), "nats.install_path", `inside config_dir "/opt/nats"`, 8},
		{"space in store_dir", withNATS(`store_dir = "/var/lib/my nats"`), "nats.store_dir", "character outside", 7},
		{"percent in install_path", withNATS(`install_path = "/opt/%n/nats-server"`), "nats.install_path", "character outside", 7},
		{"newline in config_dir", withNATS(`config_dir = "/etc/nats\nExecStartPre=/bin/sh"`), "nats.config_dir", "character outside", 7},
		// Names and values that reach a config file, a unit or a shell.
		{"newline in dc", strings.Replace(base, `dc = "a"`+"\nhost = \"10.0.0.4\"", `dc = "a\nauthorization { token: x }"`+"\nhost = \"10.0.0.4\"", 1), "nodes.l1.dc", "data center", 40},
		{"space in dc", strings.Replace(base, `dc = "a"`+"\nhost = \"10.0.0.4\"", `dc = "data center a"`+"\nhost = \"10.0.0.4\"", 1), "nodes.l1.dc", "data center", 40},
		{"newline in host", strings.Replace(base, `host = "10.0.0.4"`, `host = "10.0.0.4\nx"`, 1), "nodes.l1.host", "not a host name", 41},
		{"colon host", strings.Replace(base, `host = "10.0.0.4"`, `host = ":"`, 1), "nodes.l1.host", "not a host name", 41},
		{"colons not IPv6", strings.Replace(base, `host = "10.0.0.4"`, `host = "a:b"`, 1), "nodes.l1.host", "not a host name", 41},
		{"bracketed IPv6 host", strings.Replace(base, `host = "10.0.0.4"`, `host = "[fd00::4]"`, 1), "nodes.l1.host", "without brackets", 41},
		{"quote in listen", base + "listen = \"10.0.0.4\\\"\"\n", "nodes.l1.listen", "not an address", 42},
		{"newline in service", withNATS(`service = "nats\nExecStartPre=/bin/sh"`), "nats.service", "not a valid systemd unit name", 7},
		{"service with suffix", withNATS(`service = "nats.service"`), "nats.service", `without its suffix: "nats"`, 7},
		{"percent in service", withNATS(`service = "nats%i"`), "nats.service", "not a valid systemd unit name", 7},
		{"upper-case nats user", withNATS(`user = "Nats"`), "nats.user", "useradd accepts", 7},
		{"space in nats user", withNATS(`user = "nats x"`), "nats.user", "useradd accepts", 7},
		{"ssh_user option", base + "ssh_user = \"-oProxyCommand=x\"\n", "nodes.l1.ssh_user", "not a user name", 42},
		{"newline in ssh_user", strings.Replace(base, `ssh_user = "root"`, `ssh_user = "root\nx"`, 1), "defaults.ssh_user", "not a user name", 3},
		{"newline in account", base + "\n[accounts.\"A\\nB\"]\n", `accounts."A\nB"`, "account name", 0},
		{"space in user", strings.Replace(base, `users = ["app"]`, `users = ["app x"]`, 1), "accounts.APP.users", "user name", 10},
		{"newline in cluster name", base + "\n[clusters.\"C\\nD\"]\ndomain = \"cd\"\n", `clusters."C\nD"`, "cluster name", 0},
		{"newline in size", withNATS(`max_memory_store = "256\nMB"`), "nats.max_memory_store", "must be a size", 7},
		{"space in size", withNATS(`max_memory_store = "256 MB"`), "nats.max_memory_store", "must be a size", 7},
		{"signed sync_interval", withNATS(`sync_interval = "+2m"`), "nats.sync_interval", "digits and a unit", 7},
		{"accounts not a table", "accounts = 3\n" + strings.Replace(base, "[accounts.APP]\njetstream = true\nusers = [\"app\"]\n\n[accounts.SYS]\nsystem = true\nusers = [\"admin\"]\n", "", 1), "accounts", "must be a table", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeInv(t, tc.text)
			_, err := inventory.Load(path)
			var ie *inventory.Error
			if !errors.As(err, &ie) {
				t.Fatalf("want *inventory.Error, got %v", err)
			}
			for _, p := range ie.Problems {
				if p.Key == tc.key && strings.Contains(p.Msg, tc.msg) {
					if p.File != path {
						t.Errorf("problem names file %q, want %q", p.File, path)
					}
					if tc.line > 0 && p.Line != tc.line {
						t.Errorf("problem at line %d, want %d: %s", p.Line, tc.line, p)
					}
					if strings.Contains(p.Msg, "reflect") || strings.Contains(p.Msg, "map[string]") {
						t.Errorf("message leaks Go internals: %s", p)
					}
					return
				}
			}
			t.Fatalf("no problem with key %q and message containing %q; got:\n%v", tc.key, tc.msg, err)
		})
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	text := strings.Replace(base, `domain = "leaf"`, `domain = "hub"`, 1) + "client_port = 70000\nbogus = 1\n"
	_, err := inventory.Load(writeInv(t, text))
	var ie *inventory.Error
	if !errors.As(err, &ie) || len(ie.Problems) != 3 {
		t.Fatalf("want 3 problems at once, got %v", err)
	}
	if !strings.Contains(err.Error(), "inv.toml:") {
		t.Errorf("error does not name the file: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	inv, err := inventory.Load("example.toml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range inv.Warnings() {
		got = append(got, w.String())
	}
	all := strings.Join(got, "\n")
	if !strings.Contains(all, "clusters.BB: 4 nodes tolerate only 1 failure, like 3") {
		t.Errorf("no even-size warning for BB:\n%s", all)
	}
	if len(got) != 1 {
		t.Errorf("want exactly the BB warning, got:\n%s", all)
	}
	lazy := strings.Replace(base, `binary = "bin/nats-server"`, "binary = \"x\"\nsync_interval = \"2m\"", 1) +
		"\n[nodes.l2]\ncluster = \"LEAF\"\ndc = \"b\"\nhost = \"10.0.0.6\"\n"
	inv, err = inventory.Load(writeInv(t, lazy))
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, w := range inv.Warnings() {
		got = append(got, w.String())
	}
	all = strings.Join(got, "\n")
	for _, want := range []string{"nats.sync_interval", "clusters.HUB: 2 nodes: too small", "clusters.LEAF: leaf cluster spread over 2 data centers"} {
		if !strings.Contains(all, want) {
			t.Errorf("missing warning %q in:\n%s", want, all)
		}
	}
	// A cluster name with a dot is quoted in the warning's key, as in TOML.
	dotted := strings.ReplaceAll(strings.Replace(lazy, "[clusters.LEAF]", `[clusters."EDGE.AMS"]`, 1), `cluster = "LEAF"`, `cluster = "EDGE.AMS"`)
	inv, err = inventory.Load(writeInv(t, dotted))
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, w := range inv.Warnings() {
		got = append(got, w.String())
	}
	if all = strings.Join(got, "\n"); !strings.Contains(all, `clusters."EDGE.AMS": leaf cluster spread`) {
		t.Errorf("the dotted cluster's warning is not keyed clusters.\"EDGE.AMS\":\n%s", all)
	}
}

func TestTopology(t *testing.T) {
	inv, err := inventory.Load("example.toml")
	if err != nil {
		t.Fatal(err)
	}
	routes := inv.RouteURLs(inv.Node("bb_us_1"))
	if len(routes) != 3 || strings.Contains(strings.Join(routes, ","), "10.77.2.11") {
		t.Errorf("bb_us_1 routes to its 3 peers, not itself: %v", routes)
	}
	rem := inv.LeafRemotes(inv.Node("emea_2"))
	if len(rem) != 2 || rem[0].Account != "ACC1" || rem[1].Account != "SYS" || len(rem[0].URLs) != 4 {
		t.Errorf("emea_2 remotes: %+v", rem)
	}
	if inv.LeafRemotes(inv.Node("bb_us_1")) != nil {
		t.Errorf("hub node has leaf remotes")
	}
	// Each leaf node tries the hub's nodes in its own DC first, starting
	// at another one than its neighbour, then the other DC's.
	for node, want := range map[string][]string{
		"emea_1": {"10.77.1.11", "10.77.1.12", "10.77.2.11", "10.77.2.12"},
		"emea_2": {"10.77.1.12", "10.77.1.11", "10.77.2.11", "10.77.2.12"},
		"emea_3": {"10.77.1.11", "10.77.1.12", "10.77.2.11", "10.77.2.12"},
		"us_2":   {"10.77.2.12", "10.77.2.11", "10.77.1.11", "10.77.1.12"},
	} {
		for _, r := range inv.LeafRemotes(inv.Node(node)) {
			var hosts []string
			for _, u := range r.URLs {
				hosts = append(hosts, strings.TrimSuffix(strings.TrimPrefix(u, "nats-leaf://"), ":7422"))
			}
			if !slices.Equal(hosts, want) || !r.InOrder {
				t.Errorf("%s remote %s: %v in order %v, want %v in order", node, r.Account, hosts, r.InOrder, want)
			}
		}
	}
	if got := len(inv.NodesInDC("emea")); got != 5 {
		t.Errorf("emea has %d nodes, want 5", got)
	}
	if !inv.HasLeaves(inv.Cluster("BB")) || inv.HasLeaves(inv.Cluster("US")) {
		t.Errorf("HasLeaves wrong")
	}
}

func TestStandbyNotRouted(t *testing.T) {
	inv, err := inventory.Load(writeInv(t, base+"\n[nodes.h4]\ncluster = \"HUB\"\ndc = \"a\"\nhost = \"10.0.0.7\"\nstandby = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := strings.Join(inv.RouteURLs(inv.Node("h1")), ","); strings.Contains(r, "10.0.0.7") {
		t.Errorf("active node routes to standby: %s", r)
	}
	if r := inv.RouteURLs(inv.Node("h4")); len(r) != 2 {
		t.Errorf("standby routes to %v, want the 2 active peers", r)
	}
	if n := len(inv.Cluster("HUB").Active()); n != 2 {
		t.Errorf("active = %d", n)
	}
}

// TestOtherPathsAndNamesAreValid: the rules refuse system directories and
// unsafe characters, not paths and names unlike the example's.
func TestOtherPathsAndNamesAreValid(t *testing.T) {
	text := withNATS("install_path = \"/opt/nats/bin/nats-server\"\nconfig_dir = \"/opt/nats/etc\"\nstore_dir = \"/srv/nats-data\"\nservice = \"jetstream-edge@2\"\nuser = \"svc_nats\"\nmax_file_store = \"10gb\"\nsync_interval = \"1m30s\"")
	text = strings.Replace(text, `ssh_user = "root"`, `ssh_user = "deploy.user"`, 1)
	text = strings.Replace(text, `dc = "a"`+"\nhost = \"10.0.0.4\"", `dc = "eu-west-1.b"`+"\nhost = \"fd00::4\"\nlisten = \"::\"", 1)
	inv, err := inventory.Load(writeInv(t, text))
	if err != nil {
		t.Fatal(err)
	}
	if inv.NATS.StoreDir != "/srv/nats-data" || inv.Node("l1").DC != "eu-west-1.b" || inv.Node("l1").Listen != "::" {
		t.Errorf("values not kept: %+v %+v", inv.NATS, inv.Node("l1"))
	}
}

// TestDefaultsMistakeOnce: a bad value in [defaults] is reported once, at its
// own line, not once per node that inherits it.
func TestDefaultsMistakeOnce(t *testing.T) {
	text := strings.Replace(base, `ssh_user = "root"`, "ssh_user = \"root\"\nssh_port = 0", 1)
	_, err := inventory.Load(writeInv(t, text))
	var ie *inventory.Error
	if !errors.As(err, &ie) || len(ie.Problems) != 1 {
		t.Fatalf("want 1 problem, got %v", err)
	}
	if p := ie.Problems[0]; p.Key != "defaults.ssh_port" || p.Line != 4 {
		t.Errorf("problem at %d %s, want defaults.ssh_port at line 4", p.Line, p.Key)
	}
}

// TestServerTags: every node carries dc:<dc>; [defaults] server_tags apply to
// every node, a node's own list replaces them.
func TestServerTags(t *testing.T) {
	text := strings.Replace(base, `ssh_user = "root"`, "ssh_user = \"root\"\nserver_tags = [\"ssd\", \"Rack:1\"]", 1) +
		"server_tags = [\"gpu\"]\n"
	inv, err := inventory.Load(writeInv(t, text))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(inv.Node("h2").ServerTags(), ","), "dc:b,ssd,rack:1"; got != want {
		t.Errorf("h2 tags = %s, want %s", got, want)
	}
	if got, want := strings.Join(inv.Node("l1").ServerTags(), ","), "dc:a,gpu"; got != want {
		t.Errorf("l1 tags = %s, want %s (its own list replaces the defaults')", got, want)
	}
	if !inv.Node("h2").HasTags([]string{"DC:B", "ssd"}) || inv.Node("h1").HasTags([]string{"dc:b"}) {
		t.Error("HasTags does not match as nats-server does (all tags, any case)")
	}
}

// TestDefaultsPortsCollideOnce: two ports of [defaults] that collide are one
// mistake, reported at the line of [defaults] that sets them, not at every
// node that inherits them.
func TestDefaultsPortsCollideOnce(t *testing.T) {
	text := strings.Replace(base, `ssh_user = "root"`, "ssh_user = \"root\"\ncluster_port = 16222\nhttp_port = 16222", 1)
	_, err := inventory.Load(writeInv(t, text))
	var ie *inventory.Error
	if !errors.As(err, &ie) || len(ie.Problems) != 1 {
		t.Fatalf("want 1 problem, got %v", err)
	}
	if p := ie.Problems[0]; p.Key != "defaults.http_port" || p.Line != 5 || !strings.Contains(p.Msg, "also the cluster_port") {
		t.Errorf("problem %q at %d %s, want defaults.http_port at line 5, also the cluster_port", p.Msg, p.Line, p.Key)
	}
	// A node's own port colliding with an inherited one is that node's mistake.
	_, err = inventory.Load(writeInv(t, base+"http_port = 4222\n"))
	if !errors.As(err, &ie) || len(ie.Problems) != 1 || ie.Problems[0].Key != "nodes.l1.http_port" {
		t.Fatalf("want 1 problem at nodes.l1.http_port, got %v", err)
	}
}

// TestDefaultsPortOnBuiltinOnce: a [defaults] port equal to another port's
// built-in default is reported once too.
func TestDefaultsPortOnBuiltinOnce(t *testing.T) {
	_, err := inventory.Load(writeInv(t, strings.Replace(base, `ssh_user = "root"`, "ssh_user = \"root\"\nhttp_port = 4222", 1)))
	var ie *inventory.Error
	if !errors.As(err, &ie) || len(ie.Problems) != 1 || ie.Problems[0].Key != "defaults.http_port" || ie.Problems[0].Line != 4 {
		t.Fatalf("want 1 problem at defaults.http_port line 4, got %v", err)
	}
}

// TestNoWarningSecondJetStreamAccount: the runbooks act on the streams of
// every JetStream account, so a second one is worth no warning; both are
// listed as JetStream accounts, in name order.
func TestNoWarningSecondJetStreamAccount(t *testing.T) {
	inv, err := inventory.Load(writeInv(t, base+"\n[accounts.Telemetry]\njetstream = true\nusers = [\"tele\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range inv.Warnings() {
		if strings.HasPrefix(w.Key, "accounts") {
			t.Errorf("warning about accounts: %s", w)
		}
	}
	var names []string
	for _, a := range inv.JetStreamAccounts() {
		names = append(names, a.Name)
	}
	if got := strings.Join(names, ","); got != "APP,Telemetry" {
		t.Errorf("JetStream accounts %s, want APP,Telemetry", got)
	}
}

// TestEveryInterfaceOnSeveralHosts: nodes on different hosts may all
// listen on every interface with the same ports; each binds its own
// machine's. It was refused as "0.0.0.0:4222 is already used by node ...".
func TestEveryInterfaceOnSeveralHosts(t *testing.T) {
	text := strings.Replace(base, "host = \"10.0.0.1\"\n", "host = \"10.0.0.1\"\nlisten = \"0.0.0.0\"\n", 1)
	text = strings.Replace(text, "host = \"10.0.0.2\"\n", "host = \"10.0.0.2\"\nlisten = \"0.0.0.0\"\n", 1)
	text += "listen = \"::\"\n" // l1
	inv, err := inventory.Load(writeInv(t, text))
	if err != nil {
		t.Fatalf("nodes of different hosts listening on every interface refused: %v", err)
	}
	if got := inv.Node("h2").Addr(); got != "10.0.0.2" {
		t.Errorf("h2 is reached at %q, want its host", got)
	}
}

// TestDefaultsDCTagOnce: a dc: tag in [defaults] is one mistake, said once at
// its line, not once per node naming each node (it read 9 lines for 9 nodes).
func TestDefaultsDCTagOnce(t *testing.T) {
	_, err := inventory.Load(writeInv(t, strings.Replace(base, `ssh_user = "root"`, "ssh_user = \"root\"\nserver_tags = [\"ssd\", \"dc:a\"]", 1)))
	var ie *inventory.Error
	if !errors.As(err, &ie) || len(ie.Problems) != 1 {
		t.Fatalf("want 1 problem, got %v", err)
	}
	if p := ie.Problems[0]; p.Key != "defaults.server_tags" || p.Line != 4 || !strings.Contains(p.Msg, `tag "dc:a": dc: tags come from each node's dc`) {
		t.Errorf("problem %q at %d %s, want defaults.server_tags at line 4", p.Msg, p.Line, p.Key)
	}
}

// TestDCCaseNamesTheOddOne: when one node spells its data center in another
// case than the others, that node is the one reported, even when it sorts
// first (the others were reported, at lines holding no mistake).
func TestDCCaseNamesTheOddOne(t *testing.T) {
	text := strings.Replace(base, "dc = \"a\"\nhost = \"10.0.0.1\"", "dc = \"B\"\nhost = \"10.0.0.1\"", 1)
	_, err := inventory.Load(writeInv(t, text))
	var ie *inventory.Error
	if !errors.As(err, &ie) || len(ie.Problems) != 1 {
		t.Fatalf("want 1 problem, got %v", err)
	}
	if p := ie.Problems[0]; p.Key != "nodes.h1.dc" || p.Line != 25 || !strings.Contains(p.Msg, `"B" differs from "b" only in case (2 nodes spell it "b")`) {
		t.Errorf("problem %q at %d %s, want nodes.h1.dc at line 25", p.Msg, p.Line, p.Key)
	}
}
