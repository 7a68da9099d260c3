package provision

import (
	"os"
	"os/user"
	"path"
	"strings"
	"time"

	"github.com/dcctl/dcctl/inventory"
)

// A node an operator stopped on purpose (`dcctl node stop`) must not be
// started again by the next provision, which would otherwise take the
// stopped unit for a crashed one. The intent is a file on the host, the
// stop marker, beside the config: it survives a reboot, as the intent does,
// and `node stop` also disables the unit so that the boot does not start the
// server either. `node start` and `node restart` (and so restore-node)
// remove it and enable the unit again. `node kill` writes none: it is the
// crash drill, and a crashed node is started by provision as before.

// stopMarkerPath is where the stop marker lives on a host.
func stopMarkerPath(inv *inventory.Inventory) string {
	return path.Join(inv.NATS.ConfigDir, ".dcctl-stopped")
}

// stopMarkerContent says who stopped the node and when, on one line.
func stopMarkerContent(now time.Time) string {
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	line := who + "@" + host + " at " + now.UTC().Format(time.RFC3339)
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '\'' {
			return '_'
		}
		return r
	}, line)
}

// StoppedNote is what plans, recaps and status say of a node stopped on
// purpose.
func StoppedNote(node, by string) string {
	s := "stopped by an operator"
	if by != "" {
		s += " (" + by + ")"
	}
	return s + ": provision leaves it stopped; `dcctl node start " + node + "` starts it"
}
