package provision

import (
	"context"
	"fmt"
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

// RemovedTag starts the stop marker that `dcctl runbook replace-peer NODE
// --permanent` leaves on NODE's host. The runbook took NODE out of its meta
// group for good; the inventory edit that should follow (removing NODE) is
// the operator's, and until it is made provision must not start NODE again:
// it would rejoin as one peer too many. The marker is the same file as
// `node stop`'s, so everything that honours that one (provision, reboot,
// status) honours this one; restore-node's start removes it. `node start`
// refuses such a node: the way back must be meant (see cmd/dcctl node).
const RemovedTag = "removed for good by replace-peer --permanent: "

// Retire leaves the removed marker on node's host, disables its unit and
// stops it: what replace-peer --permanent does to a node it dropped from the
// meta group, when the node's host still answers.
func (s *Session) Retire(ctx context.Context, node string) error {
	c, err := s.Client(ctx, node)
	if err != nil {
		return err
	}
	script := stopScript(s.Inv, RemovedTag+stopMarkerContent(time.Now()))
	if _, _, err := c.Run(ctx, script); err != nil {
		return fmt.Errorf("retire %s on %s: %w", s.Inv.NATS.Service, node, err)
	}
	return nil
}

// Retired reports whether the unit is down with the marker replace-peer
// --permanent leaves: the node was removed from its meta group for good.
func (u UnitState) Retired() bool {
	return strings.HasPrefix(u.StoppedBy, RemovedTag) && u.Active != "active" && u.Active != "activating"
}

// StoppedNote is what plans, recaps and status say of a node stopped on
// purpose, by an operator or by replace-peer --permanent.
func StoppedNote(node, by string) string {
	if when, ok := strings.CutPrefix(by, RemovedTag); ok {
		return "removed from its meta group for good by `dcctl runbook replace-peer " + node + " --permanent` (" + when +
			"): provision leaves it stopped; remove [nodes." + node + "] from the inventory, or bring it back with `dcctl runbook restore-node " + node + "`"
	}
	s := "stopped by an operator"
	if by != "" {
		s += " (" + by + ")"
	}
	return s + ": provision leaves it stopped; `dcctl node start " + node + "` starts it"
}
