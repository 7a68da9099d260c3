package inventory

import (
	"net"
	"strings"
)

// portsInUse finds two nodes binding one port on one machine. A node
// listening on every interface (listen = "0.0.0.0" or "::") binds the port
// on its host alone, whatever other hosts do, and takes it from every
// address of that host; a node with an address of its own binds it there.
type portsInUse struct {
	addr map[addrPort]string // listen address and port -> node
	host map[addrPort]string // host and port -> a node with its own address there
	wild map[addrPort]string // host and port -> a node listening on every interface there
}

type addrPort struct {
	addr string
	port int
}

func newPortsInUse() *portsInUse {
	return &portsInUse{addr: map[addrPort]string{}, host: map[addrPort]string{}, wild: map[addrPort]string{}}
}

// take records that n binds port and returns the node that binds it
// already, or "".
func (u *portsInUse) take(n *Node, port int) string {
	onHost := addrPort{strings.ToLower(n.Host), port}
	if ip := net.ParseIP(n.Listen); ip != nil && ip.IsUnspecified() {
		if other := u.wild[onHost]; other != "" {
			return other
		}
		if other := u.host[onHost]; other != "" {
			return other
		}
		u.wild[onHost] = n.Name
		return ""
	}
	at := addrPort{strings.ToLower(n.Listen), port}
	if other := u.addr[at]; other != "" {
		return other
	}
	if other := u.wild[onHost]; other != "" {
		return other
	}
	u.addr[at] = n.Name
	if u.host[onHost] == "" {
		u.host[onHost] = n.Name
	}
	return ""
}
