package inventory

import "strings"

// sshTarget is the machine dcctl reaches a node on: its host and SSH port
// (two ports of one address may lead to two machines, as through a jump
// host's port forwards).
type sshTarget struct {
	host string
	port int
}

// checkOwnHost refuses a node whose host is another node's. The unit name, config_dir and store_dir are set once in
// [nats] for every node, so a second node on a host would overwrite the
// first one's config and unit and share its JetStream store: other ports or
// listen addresses do not keep them apart.
func checkOwnHost(c *collector, inv *Inventory, n *Node, machines map[sshTarget]string) {
	if strings.TrimSpace(n.Host) == "" {
		return
	}
	t := sshTarget{strings.ToLower(n.Host), n.SSH.Port}
	other, taken := machines[t]
	if !taken {
		machines[t] = n.Name
		return
	}
	c.addf(Key("nodes", n.Name, "host"), "node %s runs on %s already (SSH port %d): one host runs one node, since the unit %s.service, config_dir %s and store_dir %s are set once in [nats]: %s's would replace %s's, whatever their ports or listen addresses; give %s a host of its own",
		other, n.Host, n.SSH.Port, inv.NATS.Service, inv.NATS.ConfigDir, inv.NATS.StoreDir, n.Name, other, n.Name)
}

// sameMachine says whether two nodes are reached on one host and SSH port.
func sameMachine(a, b *Node) bool {
	return a != nil && b != nil && a.SSH.Port == b.SSH.Port && strings.EqualFold(a.Host, b.Host)
}
