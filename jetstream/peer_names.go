package jetstream

import (
	"crypto/sha256"
	"strings"
)

// PeerID is the RAFT peer id nats-server gives a server: 8 characters of
// base-62 over the sha256 of the server name (getHash in nats-server's
// events.go). It is what natscli shows in its ID column.
func PeerID(serverName string) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(serverName))
	b := make([]byte, 8)
	for i := range b {
		b[i] = digits[int(sum[i]%byte(len(digits)))]
	}
	return string(b)
}

// unknownPeer is how nats-server names a peer (meta group or stream
// replica) it has not heard from since it started: a server that was off
// while the others restarted, as during a rolling upgrade with a host down.
const unknownPeer = "Server name unknown at this time (peerID: "

// namePeer gives such a peer back the name of the server whose peer id it
// is, among names (the inventory's servers): otherwise the operator reads
// a stranger in the group, and the advice for strangers (peer-remove it)
// would remove a server that is only down. Any other name is returned as is.
func namePeer(name string, names []string) string {
	id, ok := strings.CutPrefix(name, unknownPeer)
	if !ok {
		return name
	}
	id = strings.TrimSuffix(id, ")")
	for _, n := range names {
		if PeerID(n) == id {
			return n
		}
	}
	return name
}
