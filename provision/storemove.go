package provision

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/dcctl/dcctl/inventory"
)

// StoreDirMove lists the running nodes that would restart with another
// JetStream store_dir than the one they run on. Such a server starts on an
// empty store: its meta state and every stream replica it held stay in
// the old directory, where nothing reads them. A replica its stream's other
// servers still have is copied over the network again; an R1 stream's only
// copy is gone from the server. A stopped node is not named: its store can
// be moved by hand before it starts.
func StoreDirMove(inv *inventory.Inventory, plans []*HostPlan) *StoreDirMoveRefusedError {
	from := ""
	nodes := restartsWhoseConfig(inv, plans, func(was, now []byte) bool {
		old, cur := storeDir(was), storeDir(now)
		if old != "" && cur != "" && old != cur {
			from = old
			return true
		}
		return false
	})
	if len(nodes) == 0 {
		return nil
	}
	return &StoreDirMoveRefusedError{Nodes: nodes, From: from, To: inv.NATS.StoreDir}
}

// storeDir is the jetstream store_dir of a rendered config, "" when it has
// none or cannot be read.
func storeDir(config []byte) string {
	m, err := conf.Parse(includeLine.ReplaceAllString(string(config), ""))
	if err != nil {
		return ""
	}
	js, _ := m["jetstream"].(map[string]any)
	dir, _ := js["store_dir"].(string)
	return dir
}

// StoreDirMoveRefusedError says why provision will not restart running
// nodes on another store_dir, and how to move a store.
type StoreDirMoveRefusedError struct {
	Nodes    []string
	From, To string
}

func (e *StoreDirMoveRefusedError) Error() string {
	return fmt.Sprintf("refusing to restart running nodes on another store_dir (%s: %s -> %s): each would start on an empty JetStream store, its streams' data left behind in %s, where nothing reads it; "+
		"a replica its stream's other servers hold is copied again, but an R1 stream's only copy is lost to the server. "+
		"To move the store, one node at a time: `dcctl node stop NODE`, on its host move %s to %s (the nats user keeps owning it), `dcctl provision --limit NODE` (a stopped node stays stopped), `dcctl node start NODE`, and wait until `dcctl status` is healthy before the next; "+
		"or keep store_dir as it is",
		strings.Join(e.Nodes, ", "), e.From, e.To, e.From, e.From, e.To)
}
