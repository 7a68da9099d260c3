// Package inventory reads and checks the operator's inventory: which NATS
// servers run where, in which cluster, data center and JetStream domain.
// It imports nothing else of dcctl; every other package builds on it.
package inventory

import (
	"fmt"
	"sort"
	"strings"
)

// Inventory is a loaded, validated inventory with defaults applied and
// paths resolved.
type Inventory struct {
	File     string // absolute path of the inventory file
	Dir      string // its directory: relative paths resolve from here
	NATS     NATS
	TLS      TLS
	Accounts []*Account // sorted by name
	Clusters []*Cluster // sorted by name
	Nodes    []*Node    // sorted by name

	lines lineIndex // where each key is written, for later checks' messages
}

// NATS holds the deployment-wide nats-server settings.
type NATS struct {
	Binary         string // local path of the nats-server binary to push
	InstallPath    string
	ConfigDir      string
	StoreDir       string
	Service        string // systemd unit name, without ".service"
	User           string // system user the unit runs as
	MaxMemoryStore string
	MaxFileStore   string
	SyncInterval   string
	LameDuck       string // lame_duck_duration
	LameDuckGrace  string // lame_duck_grace_period
	Monitoring     string // MonitoringLoopback or MonitoringHost
}

// TLS says whether every listener speaks TLS with certificates from the
// deployment's CA (on unless the inventory opts out).
type TLS struct {
	Enabled bool
	// The operator's own CA and certificates (all three or none), instead
	// of a CA dcctl creates: absolute paths; in CertFile and KeyFile,
	// NodePlaceholder stands for each node's server name.
	CAFile, CertFile, KeyFile string
}

// NodePlaceholder in tls.cert_file and tls.key_file is a node's server name.
const NodePlaceholder = "{node}"

// OperatorCA reports whether the inventory brings its own CA and
// certificates.
func (t TLS) OperatorCA() bool { return t.Enabled && t.CAFile != "" }

// NodeFiles are node's certificate and key under tls.cert_file and
// tls.key_file.
func (t TLS) NodeFiles(node string) (cert, key string) {
	return strings.ReplaceAll(t.CertFile, NodePlaceholder, node), strings.ReplaceAll(t.KeyFile, NodePlaceholder, node)
}

// Problemf is a problem with the inventory's key, placed at the line where
// it is written: for checks made after Load, by other packages.
func (inv *Inventory) Problemf(key, format string, args ...any) Problem {
	return Problem{File: inv.File, Line: inv.lines.line(key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Account is a NATS account and its users.
type Account struct {
	Name      string
	JetStream bool
	System    bool
	Users     []string
}

// Cluster is a NATS cluster: one JetStream domain, optionally a leaf of
// another cluster.
type Cluster struct {
	Name   string
	Domain string
	LeafOf string
	Nodes  []*Node // sorted by name
}

// Node is one nats-server; its Name is the server_name.
type Node struct {
	Name    string
	Cluster string
	DC      string
	Host    string // where dcctl connects over SSH
	Listen  string // address nats-server binds
	Standby bool   // rendered but not started: a ready replacement
	// Tags are the inventory's own server tags (server_tags), beside the
	// dc:<dc> tag every node gets (ServerTags).
	Tags  []string
	SSH   SSH
	Ports Ports
}

// SSH is how dcctl reaches a node's host.
type SSH struct {
	User       string
	Port       int
	Key        string // absolute path, may be empty when the agent is used
	KnownHosts string // absolute path
	Sudo       bool
	Transfer   string // TransferSFTP or TransferExec
}

// Ports are the node's nats-server listeners.
type Ports struct {
	Client   int
	Cluster  int
	Leafnode int
	HTTP     int
}

// Node returns the node with the given server name, or nil.
func (inv *Inventory) Node(name string) *Node {
	for _, n := range inv.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Cluster returns the named cluster, or nil.
func (inv *Inventory) Cluster(name string) *Cluster {
	for _, c := range inv.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Account returns the named account, or nil.
func (inv *Inventory) Account(name string) *Account {
	for _, a := range inv.Accounts {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// SystemAccount is the one account with system = true.
func (inv *Inventory) SystemAccount() *Account {
	for _, a := range inv.Accounts {
		if a.System {
			return a
		}
	}
	return nil
}

// JetStreamAccounts lists the JetStream-enabled (application) accounts, in
// the inventory's order (by name): dcctl reaches the streams of each as its
// first user. Validation wants at least one.
func (inv *Inventory) JetStreamAccounts() []*Account {
	var out []*Account
	for _, a := range inv.Accounts {
		if a.JetStream && !a.System {
			out = append(out, a)
		}
	}
	return out
}

// StreamLabel names a stream for output and journals: ACCOUNT/NAME when
// the inventory has more than one JetStream account (two of them may each
// have a stream of that name), the name alone otherwise.
func (inv *Inventory) StreamLabel(account, name string) string {
	if account == "" || len(inv.JetStreamAccounts()) < 2 {
		return name
	}
	return account + "/" + name
}

// Users lists every user name of every account, sorted.
// UsersSharingEnvVar maps each DCCTL_PASSWORD_<USER> variable that more
// than one user reads ("writer" and "Writer", "a.b" and "a-b") to those
// users.
func (inv *Inventory) UsersSharingEnvVar() map[string][]string {
	by := map[string][]string{}
	for _, u := range inv.Users() {
		by[EnvVar(u)] = append(by[EnvVar(u)], u)
	}
	for v, users := range by {
		if len(users) < 2 {
			delete(by, v)
		}
	}
	return by
}

func (inv *Inventory) Users() []string {
	var out []string
	for _, a := range inv.Accounts {
		out = append(out, a.Users...)
	}
	sort.Strings(out)
	return out
}
