package inventory

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The character sets below keep every inventory string that reaches a config
// file, a unit or a shell command to one token: no space, quote, newline, #,
// $ or % can end a value and start another key.
var (
	nameRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	domainRE   = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	unitRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]*$`)
	sysUserRE  = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`) // what useradd accepts without --badname
	sshUserRE  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@-]*$`)
	hostRE     = regexp.MustCompile(`^[A-Za-z0-9:][A-Za-z0-9_.:-]*$`)
	sizeRE     = regexp.MustCompile(`^(?i)[0-9]+(b|k|kb|m|mb|g|gb|t|tb)?$`)
	durationRE = regexp.MustCompile(`^([0-9]+(ns|us|ms|s|m|h))+$`)
)

// validate checks the meaning of a decoded inventory: everything nats-server
// or the topology would reject later, found now, before any connection.
func validate(c *collector, inv *Inventory) {
	validateNATS(c, inv)
	validateAccounts(c, inv)
	validateClusters(c, inv)
	validateNodes(c, inv)
	validateTags(c, inv)
}

func validateNATS(c *collector, inv *Inventory) {
	n := inv.NATS
	if n.Binary == "" {
		c.addf("nats.binary", "must name the local nats-server binary to push")
	}
	validateHostPaths(c, n)
	switch {
	case !unitRE.MatchString(n.Service):
		c.addf("nats.service", "%q is not a valid systemd unit name (a letter or digit, then letters, digits, _ . @ -)", n.Service)
	case strings.HasSuffix(n.Service, ".service"):
		c.addf("nats.service", "write the unit name without its suffix: %q", strings.TrimSuffix(n.Service, ".service"))
	}
	if !sysUserRE.MatchString(n.User) {
		c.addf("nats.user", "%q is not a system user name useradd accepts (lower-case letters, digits, _ -, starting with a letter or _, at most 32)", n.User)
	}
	validateTLS(c, inv.TLS)
	if n.Monitoring != MonitoringLoopback && n.Monitoring != MonitoringHost {
		c.addf("nats.monitoring", "must be %q (127.0.0.1, reached through SSH) or %q (the node's address; HTTPS when TLS is on), not %q", MonitoringLoopback, MonitoringHost, n.Monitoring)
	}
	if n.SyncInterval != "always" {
		if d, err := time.ParseDuration(n.SyncInterval); err != nil || d <= 0 || !durationRE.MatchString(n.SyncInterval) {
			c.addf("nats.sync_interval", "must be \"always\" or a duration such as \"2m\" or \"1m30s\" (digits and a unit: ns us ms s m h), not %q", n.SyncInterval)
		}
	}
	for key, v := range map[string]string{"nats.max_memory_store": n.MaxMemoryStore, "nats.max_file_store": n.MaxFileStore} {
		if v != "" && !sizeRE.MatchString(v) {
			c.addf(key, "must be a size such as \"256MB\" or \"2GB\", not %q", v)
		}
	}
	// nats-server refuses a lame duck duration under 30s.
	if d, err := time.ParseDuration(n.LameDuck); err != nil || d < 30*time.Second {
		c.addf("nats.lame_duck_duration", "must be a duration of at least 30s (nats-server's minimum), not %q", n.LameDuck)
	}
	if d, err := time.ParseDuration(n.LameDuckGrace); err != nil || d <= 0 {
		c.addf("nats.lame_duck_grace_period", "must be a positive duration such as \"10s\", not %q", n.LameDuckGrace)
	}
}

func validateAccounts(c *collector, inv *Inventory) {
	var system, js []string
	owner := map[string]string{}
	for _, a := range inv.Accounts {
		key := Key("accounts", a.Name)
		if !nameRE.MatchString(a.Name) {
			c.addf(key, "account name %q must start with a letter or digit and hold only letters, digits, _ . -", a.Name)
		}
		if a.System {
			system = append(system, a.Name)
			if a.JetStream {
				c.addf(key+".jetstream", "the system account cannot have JetStream enabled")
			}
		}
		if a.JetStream {
			js = append(js, a.Name)
		}
		if len(a.Users) == 0 && (a.System || a.JetStream) {
			c.addf(key+".users", "account has no users: add at least one (users = [\"name\"])")
		}
		for _, u := range a.Users {
			if !nameRE.MatchString(u) {
				c.addf(key+".users", "user name %q must start with a letter or digit and hold only letters, digits, _ . -", u)
				continue
			}
			if prev, dup := owner[u]; dup {
				c.addf(key+".users", "user %q is already a user of account %s: user names must be unique", u, prev)
				continue
			}
			owner[u] = a.Name
		}
	}
	switch {
	case len(system) == 0:
		c.addf("accounts", "no system account: mark one account with system = true (SYS in inventory/example.toml)")
	case len(system) > 1:
		c.addf(Key("accounts", system[1], "system"), "two system accounts (%s): exactly one may have system = true", strings.Join(system, ", "))
	}
	if len(js) == 0 {
		c.addf("accounts", "no application account with jetstream = true: streams need one")
	}
}

func validateClusters(c *collector, inv *Inventory) {
	if len(inv.Clusters) == 0 {
		c.addf("clusters", "no clusters: define at least one [clusters.NAME] with a domain")
	}
	domains := map[string]string{}
	for _, cl := range inv.Clusters {
		key := Key("clusters", cl.Name)
		if !nameRE.MatchString(cl.Name) {
			c.addf(key, "cluster name %q must start with a letter or digit and hold only letters, digits, _ . -", cl.Name)
		}
		switch {
		case cl.Domain == "":
			c.addf(key+".domain", "missing: every cluster needs its own JetStream domain")
		case !domainRE.MatchString(cl.Domain):
			c.addf(key+".domain", "domain %q may hold only letters, digits, _ and -", cl.Domain)
		default:
			lower := strings.ToLower(cl.Domain)
			if prev, dup := domains[lower]; dup {
				c.addf(key+".domain", "domain %q is already the domain of cluster %s: each cluster needs its own", cl.Domain, prev)
			} else {
				domains[lower] = cl.Name
			}
		}
		if cl.LeafOf != "" {
			parent := inv.Cluster(cl.LeafOf)
			switch {
			case cl.LeafOf == cl.Name:
				c.addf(key+".leaf_of", "a cluster cannot be a leaf of itself")
			case parent == nil:
				c.addf(key+".leaf_of", "names cluster %q, which is not defined (clusters: %s)", cl.LeafOf, clusterNames(inv))
			case parent.LeafOf != "":
				c.addf(key+".leaf_of", "names %s, which is itself a leaf of %s: leaf clusters must connect to a hub cluster", cl.LeafOf, parent.LeafOf)
			}
		}
		active := 0
		for _, n := range cl.Nodes {
			if !n.Standby {
				active++
			}
		}
		switch active {
		case 0:
			c.addf(key, "cluster has no nodes (other than standby ones): add [nodes.NAME] with cluster = %q", cl.Name)
		case 1:
			// nats-server's JetStream cluster expects at least two meta
			// peers: a lone clustered server never elects a meta leader.
			c.addf(key, "a cluster of 1 node never elects a JetStream meta leader (nats-server counts at least 2 peers in a cluster): give it 3 nodes (or 5); 2 work but tolerate no failure")
		}
	}
}

func validateNodes(c *collector, inv *Inventory) {
	if len(inv.Nodes) == 0 {
		c.addf("nodes", "no nodes: define at least one [nodes.NAME]")
	}
	ports := newPortsInUse()
	lowerNames := map[string]string{}
	machines := map[sshTarget]string{}
	for _, n := range inv.Nodes {
		key := Key("nodes", n.Name)
		checkOwnHost(c, inv, n, machines)
		if !nameRE.MatchString(n.Name) {
			c.addf(key, "server name %q must start with a letter or digit and hold only letters, digits, _ . -", n.Name)
		}
		if prev, dup := lowerNames[strings.ToLower(n.Name)]; dup {
			c.addf(key, "server name %q differs from %q only in case: server names must be unique", n.Name, prev)
		}
		lowerNames[strings.ToLower(n.Name)] = n.Name
		switch {
		case n.Cluster == "":
			c.addf(key+".cluster", "missing: name the cluster this node belongs to (clusters: %s)", clusterNames(inv))
		case inv.Cluster(n.Cluster) == nil:
			c.addf(key+".cluster", "names cluster %q, which is not defined (clusters: %s)", n.Cluster, clusterNames(inv))
		}
		switch {
		case strings.TrimSpace(n.DC) == "":
			c.addf(key+".dc", "missing: name the data center of this node")
		case !nameRE.MatchString(n.DC):
			c.addf(key+".dc", "data center %q must start with a letter or digit and hold only letters, digits, _ . -", n.DC)
		}
		switch {
		case strings.TrimSpace(n.Host) == "":
			c.addf(key+".host", "missing or empty: the address dcctl connects to over SSH")
		case !validHost(n.Host):
			c.addf(key+".host", "%q is not a host name or address (letters, digits, _ . : -; an IPv6 address without brackets)", n.Host)
		}
		if n.Listen != n.Host && !validHost(n.Listen) {
			c.addf(key+".listen", "%q is not an address (letters, digits, _ . : -; an IPv6 address without brackets)", n.Listen)
		}
		switch {
		case n.SSH.User == "":
			c.addf(c.settingKey(n.Name, "ssh_user"), "must not be empty")
		case !sshUserRE.MatchString(n.SSH.User):
			c.addf(c.settingKey(n.Name, "ssh_user"), "%q is not a user name (letters, digits, _ . @ -, not starting with . @ -)", n.SSH.User)
		}
		if n.SSH.KnownHosts == "" {
			c.addf(c.settingKey(n.Name, "known_hosts"), "must name a known_hosts file: host keys are always verified")
		}
		checkPort(c, c.settingKey(n.Name, "ssh_port"), n.SSH.Port)
		if n.SSH.Transfer != TransferSFTP && n.SSH.Transfer != TransferExec {
			c.addf(c.settingKey(n.Name, "transfer"), "must be %q or %q, not %q", TransferSFTP, TransferExec, n.SSH.Transfer)
		}
		listeners := []struct {
			name string
			port int
		}{{"client_port", n.Ports.Client}, {"cluster_port", n.Ports.Cluster}, {"leafnode_port", n.Ports.Leafnode}, {"http_port", n.Ports.HTTP}}
		own := map[int]string{}
		var clashes []portClash
		for _, p := range listeners {
			pk := key + "." + p.name
			if !checkPort(c, c.settingKey(n.Name, p.name), p.port) {
				continue
			}
			if other, dup := own[p.port]; dup {
				// Both inherited: one mistake in [defaults], said once there.
				if c.inherits(n.Name, p.name) && c.inherits(n.Name, other) {
					c.addf(c.settingKey(n.Name, p.name), "port %d is also the %s", p.port, other)
				} else {
					c.addf(pk, "port %d is also this node's %s", p.port, other)
				}
				continue
			}
			own[p.port] = p.name
			// A node on another's host has its error already, and the
			// fix (a host of its own) ends its port clashes too.
			if other := ports.take(n, p.port); other != "" && !sameMachine(n, inv.Node(other)) {
				clashes = append(clashes, portClash{key: pk, name: p.name, port: p.port, other: other})
			}
		}
		reportClashes(c, n, len(listeners), clashes)
	}
}

func checkPort(c *collector, key string, p int) bool {
	if p < 1 || p > 65535 {
		c.addf(key, "port %d is out of range (1-65535)", p)
		return false
	}
	return true
}

func clusterNames(inv *Inventory) string {
	if len(inv.Clusters) == 0 {
		return "none defined"
	}
	names := make([]string, len(inv.Clusters))
	for i, cl := range inv.Clusters {
		names[i] = cl.Name
	}
	return strings.Join(names, ", ")
}

// portString is used by topology URLs.
func portString(p int) string { return strconv.Itoa(p) }

// validateTLS: the operator's CA and certificates come as all three paths
// or none, and the per-node ones name the node.
func validateTLS(c *collector, t TLS) {
	set := 0
	for _, p := range []string{t.CAFile, t.CertFile, t.KeyFile} {
		if p != "" {
			set++
		}
	}
	if set != 0 && set != 3 {
		c.addf("tls", "give ca_file, cert_file and key_file together (the operator's CA and every node's certificate and key), or none (dcctl creates a CA)")
		return
	}
	for k, p := range map[string]string{"tls.cert_file": t.CertFile, "tls.key_file": t.KeyFile} {
		if p != "" && !strings.Contains(p, NodePlaceholder) {
			c.addf(k, "%q must contain %s, which stands for each node's server name (e.g. \"pki/%s.pem\")", p, NodePlaceholder, NodePlaceholder)
		}
	}
}

// validHost: a name or IPv4 address of hostRE's letters, or, when it holds a
// colon, an IPv6 address that parses: a colon elsewhere (":", "a:b") would
// be rendered as a bracketed address nats-server cannot parse.
func validHost(h string) bool {
	if !hostRE.MatchString(h) {
		return false
	}
	if !strings.Contains(h, ":") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Is6() && a.Zone() == ""
}
