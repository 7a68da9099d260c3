package inventory

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// Defaults that apply when neither [defaults] nor the node says otherwise.
const (
	DefaultSSHUser      = "root"
	DefaultSSHPort      = 22
	DefaultSSHKey       = "~/.ssh/id_ed25519"
	DefaultKnownHosts   = "~/.ssh/known_hosts"
	DefaultClientPort   = 4222
	DefaultClusterPort  = 6222
	DefaultLeafnodePort = 7422
	DefaultHTTPPort     = 8222
)

// Where a node's monitoring endpoint listens (NATS.Monitoring).
const (
	MonitoringLoopback = "loopback" // 127.0.0.1 only: reached through SSH
	MonitoringHost     = "host"     // the node's listen address, over HTTPS when TLS is on
)

// How files reach a host (SSH.Transfer).
const (
	TransferSFTP = "sftp" // SFTP; exec when the host has no sftp-server
	TransferExec = "exec" // streamed into a shell script over an exec channel
)

var defaultKeys = []string{"ssh_user", "ssh_port", "ssh_key", "known_hosts", "sudo", "transfer",
	"client_port", "cluster_port", "leafnode_port", "http_port", "server_tags"}

// Load reads, decodes and validates the inventory at path. Any problem is
// returned as *Error listing all of them; nothing is returned half-checked.
func Load(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory %s: %w", path, err)
	}
	return Parse(abs, data)
}

// Parse decodes and validates inventory text; file names it in messages and
// anchors relative paths.
func Parse(file string, data []byte) (*Inventory, error) {
	c := &collector{file: file, lines: indexLines(string(data))}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			c.list = append(c.list, syntaxProblem(file, string(data), pe))
		} else {
			c.list = append(c.list, Problem{File: file, Msg: "TOML syntax error: " + err.Error()})
		}
		return nil, c.err()
	}
	inv := decode(c, file, raw)
	inv.lines = c.lines
	validate(c, inv)
	if err := c.err(); err != nil {
		return nil, err
	}
	return inv, nil
}

// syntaxProblem places a TOML syntax error. The decoder's own line is the
// one after the mistake when the mistake ends a line (an unterminated
// [table), and its LastKey is the last key that parsed, often in another
// table: the line comes from the error's byte offset instead, and the key is
// only the one written on that line, if any.
func syntaxProblem(file, text string, pe toml.ParseError) Problem {
	line := pe.Position.Line
	if pe.Position.Start > 0 || line <= 1 {
		line = lineOfOffset(text, pe.Position.Start)
	}
	return Problem{File: file, Line: line, Key: keyOnLine(text, line), Msg: "TOML syntax error: " + pe.Message}
}

func decode(c *collector, file string, raw map[string]any) *Inventory {
	home, _ := os.UserHomeDir()
	inv := &Inventory{File: file, Dir: filepath.Dir(file)}
	root := newTable(c, "", raw)

	d := root.sub("defaults")
	def := nodeSettings{
		sshUser:    d.str("ssh_user", DefaultSSHUser),
		sshPort:    d.integer("ssh_port", DefaultSSHPort),
		sshKey:     d.str("ssh_key", DefaultSSHKey),
		knownHosts: d.str("known_hosts", DefaultKnownHosts),
		sudo:       d.boolean("sudo", false),
		transfer:   d.str("transfer", TransferSFTP),
		tags:       d.strings("server_tags"),
		ports: Ports{
			Client:   d.integer("client_port", DefaultClientPort),
			Cluster:  d.integer("cluster_port", DefaultClusterPort),
			Leafnode: d.integer("leafnode_port", DefaultLeafnodePort),
			HTTP:     d.integer("http_port", DefaultHTTPPort),
		},
	}
	d.done(defaultKeys...)

	n := root.sub("nats")
	inv.NATS = NATS{
		Binary:         resolvePath(inv.Dir, home, n.str("binary", "bin/nats-server")),
		InstallPath:    n.str("install_path", "/usr/local/bin/nats-server"),
		ConfigDir:      n.str("config_dir", "/etc/nats"),
		StoreDir:       n.str("store_dir", "/var/lib/nats"),
		Service:        n.str("service", "nats-server"),
		User:           n.str("user", "nats"),
		MaxMemoryStore: n.str("max_memory_store", ""),
		MaxFileStore:   n.str("max_file_store", ""),
		SyncInterval:   n.str("sync_interval", "always"),
		LameDuck:       n.str("lame_duck_duration", "30s"),
		LameDuckGrace:  n.str("lame_duck_grace_period", "10s"),
		Monitoring:     n.str("monitoring", MonitoringLoopback),
	}
	n.done("binary", "install_path", "config_dir", "store_dir", "service", "user",
		"max_memory_store", "max_file_store", "sync_interval", "lame_duck_duration", "lame_duck_grace_period", "monitoring")

	tl := root.sub("tls")
	inv.TLS = TLS{Enabled: tl.boolean("enabled", true),
		CAFile:   resolvePath(inv.Dir, home, tl.str("ca_file", "")),
		CertFile: resolvePath(inv.Dir, home, tl.str("cert_file", "")),
		KeyFile:  resolvePath(inv.Dir, home, tl.str("key_file", ""))}
	tl.done("enabled", "ca_file", "cert_file", "key_file")

	accounts := root.sub("accounts")
	for _, name := range accounts.names() {
		a := accounts.sub(name)
		inv.Accounts = append(inv.Accounts, &Account{
			Name:      name,
			JetStream: a.boolean("jetstream", false),
			System:    a.boolean("system", false),
			Users:     a.strings("users"),
		})
		a.done("jetstream", "system", "users")
	}
	accounts.done()

	clusters := root.sub("clusters")
	for _, name := range clusters.names() {
		t := clusters.sub(name)
		inv.Clusters = append(inv.Clusters, &Cluster{
			Name:   name,
			Domain: t.str("domain", ""),
			LeafOf: t.str("leaf_of", ""),
		})
		t.done("domain", "leaf_of")
	}
	clusters.done()

	nodes := root.sub("nodes")
	for _, name := range nodes.names() {
		t := nodes.sub(name)
		node := &Node{
			Name:    name,
			Cluster: t.str("cluster", ""),
			DC:      t.str("dc", ""),
			Host:    t.str("host", ""),
			Listen:  t.str("listen", ""),
			Standby: t.boolean("standby", false),
			Tags:    def.tags,
			SSH: SSH{
				User:       t.str("ssh_user", def.sshUser),
				Port:       t.integer("ssh_port", def.sshPort),
				Key:        resolvePath(inv.Dir, home, t.str("ssh_key", def.sshKey)),
				KnownHosts: resolvePath(inv.Dir, home, t.str("known_hosts", def.knownHosts)),
				Sudo:       t.boolean("sudo", def.sudo),
				Transfer:   t.str("transfer", def.transfer),
			},
			Ports: Ports{
				Client:   t.integer("client_port", def.ports.Client),
				Cluster:  t.integer("cluster_port", def.ports.Cluster),
				Leafnode: t.integer("leafnode_port", def.ports.Leafnode),
				HTTP:     t.integer("http_port", def.ports.HTTP),
			},
		}
		if node.Listen == "" {
			node.Listen = node.Host
		}
		// A node's own list replaces the defaults', as every other key does.
		if _, own := t.m["server_tags"]; own {
			node.Tags = t.strings("server_tags")
		}
		t.done(append([]string{"cluster", "dc", "host", "listen", "standby"}, defaultKeys...)...)
		inv.Nodes = append(inv.Nodes, node)
	}
	nodes.done()

	root.done("defaults", "nats", "tls", "accounts", "clusters", "nodes")

	for _, cl := range inv.Clusters {
		for _, node := range inv.Nodes {
			if node.Cluster == cl.Name {
				cl.Nodes = append(cl.Nodes, node)
			}
		}
	}
	return inv
}

type nodeSettings struct {
	sshUser, sshKey, knownHosts string
	transfer                    string
	tags                        []string
	sshPort                     int
	sudo                        bool
	ports                       Ports
}

// resolvePath expands ~ and makes relative paths relative to the inventory.
func resolvePath(dir, home, p string) string {
	switch {
	case p == "":
		return ""
	case p == "~":
		return home
	case strings.HasPrefix(p, "~/"):
		return filepath.Join(home, p[2:])
	case filepath.IsAbs(p):
		return filepath.Clean(p)
	default:
		return filepath.Join(dir, p)
	}
}
