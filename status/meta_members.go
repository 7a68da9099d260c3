package status

import (
	"fmt"
	"strings"

	"github.com/dcctl/dcctl/inventory"
)

// memberWarnings compares the meta group with the inventory. The servers
// count every peer in the quorum, so a peer the inventory does not know (a
// node dropped from the inventory but never peer-removed) or one peer too
// many (a node `replace-peer --permanent` removed, started again while the
// inventory still lists it, rejoins beside its replacement) changes what
// the domain survives while each peer looks healthy. Only a meta leader's
// list is complete enough to judge.
//
// A replacement under way (`replace-peer NODE --replacement NEW` without
// --permanent, before the inventory edit) also has a standby peer beyond
// the active nodes, beside the offline one it stands in for: that is said
// as one thing, the replacement and its next step, and the standby nodes
// it names are returned, so that no other warning gives them another hint.
func memberWarnings(inv *inventory.Inventory, d *Domain, add func(level, domain, format string, a ...any)) (replacing map[string]bool) {
	cl := inv.Cluster(d.Cluster)
	if cl == nil || d.MetaLeader == "" {
		return nil
	}
	var unknown, unknownRunning, standby, offline []string
	for _, p := range d.Meta {
		n := inv.Node(p.Name)
		switch {
		case n == nil || n.Cluster != cl.Name:
			unknown = append(unknown, p.Name)
			if p.Online {
				unknownRunning = append(unknownRunning, p.Name)
			}
		case n.Standby:
			standby = append(standby, p.Name)
		case !p.Online:
			offline = append(offline, p.Name)
		}
	}
	if len(unknown) > 0 {
		add(LevelDegraded, d.Name, "meta group of domain %q has peers that %s does not list in cluster %s: %s. The servers count them in the quorum (%d peers, quorum %d) though provision manages none of them. If they are gone for good, remove them from the group: `nats --context local:admin server raft peer-remove NAME --js-domain %s` for each (local:admin is the system user's context as `dcctl context export` names it; with --prefix P, P:admin) (or list them in the inventory and run `dcctl runbook replace-peer NAME --permanent`); if they belong, add them to the inventory",
			d.Name, inv.File, cl.Name, strings.Join(unknown, ", "), len(d.Meta), d.Quorum, d.Name)
		if len(unknownRunning) > 0 {
			// A node taken out of the inventory keeps running on its host:
			// provision no longer reaches it, and a peer-remove of a server
			// that runs is undone when it rejoins.
			verb := "is"
			if len(unknownRunning) > 1 {
				verb = "are"
			}
			add(LevelDegraded, d.Name, "%s %s still running (online in the meta group of domain %q): taking [nodes.NAME] out of the inventory stops nothing. To take one out for good, put it back in the inventory, then `dcctl node stop NAME` and `dcctl runbook replace-peer NAME --permanent` (its replicas move, its unit is disabled), then remove it from the inventory and run `dcctl provision`",
				strings.Join(unknownRunning, ", "), verb, d.Name)
		}
	}
	// The unknown peers are said above; this counts the listed ones.
	active, known := len(cl.Active()), len(d.Meta)-len(unknown)
	if known <= active {
		return nil
	}
	if len(standby) > 0 && len(offline) > 0 && known-active <= len(standby) {
		replacementWarning(inv, d, standby, offline, add)
		replacing = map[string]bool{}
		for _, n := range standby {
			replacing[n] = true
		}
		return replacing
	}
	msg := fmt.Sprintf("meta group of domain %q has %d peers of cluster %s, %d more than its %d active nodes in %s", d.Name, known, cl.Name, known-active, active, inv.File)
	if len(standby) > 0 {
		// Most often a replace-peer --replacement started it: the advice
		// for that comes first (a run stopped halfway left it so too).
		msg += fmt.Sprintf("; standby in the inventory but a peer: %s. `dcctl runbook replace-peer OLD --replacement %s` starts its replacement: once that run is done, set standby = false for it in the inventory; if the run stopped halfway, run it again to finish, or stop the replacement (`dcctl node stop %s`). Otherwise, a",
			strings.Join(standby, ", "), standby[0], standby[0])
	} else {
		msg += ". A"
	}
	msg += " node removed with `dcctl runbook replace-peer NODE --permanent` and started again while the inventory still listed it rejoins this way: stop it (`dcctl node stop NODE`), peer-remove it again (`dcctl runbook replace-peer NODE --permanent`) and remove [nodes.NODE] from the inventory"
	add(LevelDegraded, d.Name, "%s", msg)
	return nil
}

// replacementWarning: standby nodes run as meta peers while active nodes'
// peers are offline, as replace-peer without --permanent leaves a domain
// until the inventory says the replacement is a member.
func replacementWarning(inv *inventory.Inventory, d *Domain, standby, offline []string, add func(level, domain, format string, a ...any)) {
	news, olds := strings.Join(standby, ", "), strings.Join(offline, ", ")
	newNodes, runs := "node "+news, "runs as a meta peer"
	if len(standby) > 1 {
		newNodes, runs = "nodes "+news, "run as meta peers"
	}
	old, gone := olds, olds+" is gone"
	if len(offline) > 1 {
		old, gone = "NODE", "a NODE of "+olds+" is gone"
	}
	add(LevelDegraded, d.Name, "replacement under way in domain %q: standby %s %s beside offline %s (as `dcctl runbook replace-peer NODE --replacement NEWNODE` leaves it), so the meta group counts %d peers, quorum %d. Next: in %s set standby = false on %s and run `dcctl provision %s` (the other nodes then route to it); then, if %s for good, `dcctl runbook replace-peer %s --permanent` and remove [nodes.%s] from the inventory, or else bring it back with `dcctl runbook restore-node %s`",
		d.Name, newNodes, runs, olds, len(d.Meta), d.Quorum, inv.File, news, inv.File, gone, old, old, old)
}
