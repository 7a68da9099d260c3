package status

import (
	"fmt"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/remote"
)

// partitionWarnings say, for each DC of which no server answered over NATS
// while others did, what this machine still reaches there and what that
// means: servers that run but are cut off are a partition, not dead
// servers, and must not be replaced on this evidence. It returns the DCs it
// spoke for, whose servers' one-by-one offline warnings it stands for.
func partitionWarnings(inv *inventory.Inventory, r *Report, add func(level, domain, format string, a ...any)) map[string]bool {
	cut := map[string]bool{}
	side := "the DC dcctl's NATS connection is on"
	if r.NATSViaDC != "" {
		side = fmt.Sprintf("DC %s (dcctl's NATS connection is on %s)", r.NATSViaDC, r.NATSVia)
	}
	for _, dc := range r.DCs {
		if !dc.Cut {
			continue
		}
		cut[dc.Name] = true
		active := countUnits(r, dc.Name, "active")
		running := active > 0 || len(dc.MonitorAnswered) > 0
		switch {
		case running:
			reach := fmt.Sprintf("SSH reaches %d of its %d hosts", dc.SSHReachable, dc.Servers)
			if !dc.SSHAsked {
				reach = "SSH was not asked (--no-units)"
			}
			if active > 0 {
				reach += fmt.Sprintf(", %d with %s active", active, inv.NATS.Service+".service")
			}
			if len(dc.MonitorAnswered) > 0 {
				reach += fmt.Sprintf(", %d answering on their monitoring port", len(dc.MonitorAnswered))
			}
			add(LevelDegraded, "", "DC %s: none of its %d servers answers over NATS from %s, but %s: they run. The link between the DCs is probably cut (a partition), not the servers dead; each side keeps what it has a majority for (see each domain as seen from each DC). It heals by itself when the link is back: do not replace or restart servers on this evidence (docs/runbooks.md: DC link down)",
				dc.Name, dc.Servers, side, reach)
		case dc.SSHAsked && dc.SSHReachable == 0:
			add(LevelDegraded, "", "DC %s: none of its %d servers answers over NATS from %s, and none of its hosts over SSH from this machine (%s): DC %s is down, or cut off from here (the link between DCs, or this machine's link to %s). The cause may be a partition rather than dead servers: do not replace them on this evidence (docs/runbooks.md: DC link down, DC lost)",
				dc.Name, dc.Servers, side, strings.Join(dc.SSHUnreachable, ", "), dc.Name, dc.Name)
		default:
			add(LevelDegraded, "", "DC %s: none of its %d servers answers over NATS from %s, nor on its monitoring port: the servers of DC %s are down (see their units), or cut off from here; the cause may be a partition rather than dead servers: check the link between the DCs before replacing anything (docs/runbooks.md: DC link down, DC lost)",
				dc.Name, dc.Servers, side, dc.Name)
		}
	}
	return cut
}

// allAnswered: every non-standby server of d answered over NATS.
func allAnswered(d *Domain) bool {
	for _, s := range d.Servers {
		if !s.Standby && !s.Online {
			return false
		}
	}
	return true
}

func countUnits(r *Report, dc, state string) int {
	n := 0
	for _, d := range r.Domains {
		for _, s := range d.Servers {
			if s.DC == dc && !s.Standby && s.Unit == state {
				n++
			}
		}
	}
	return n
}

// sideWarnings say how each DC's servers see a domain's meta group when the
// NATS view is incomplete: the backbone's quorum per side of a cut, and a
// leaf cluster's own health in its DC, which a cut of its links to the hub
// does not take away.
func sideWarnings(inv *inventory.Inventory, d *Domain, cut map[string]bool, add func(level, domain, format string, a ...any)) {
	if len(d.Views) == 0 {
		return
	}
	anyCut := false
	for _, c := range cut {
		anyCut = anyCut || c
	}
	cl := inv.Cluster(d.Cluster)
	if cl != nil && len(dcsOf(cl.Active())) == 1 {
		// Said only when something puts this domain in doubt (a DC cut, or
		// one of its own servers silent): with one hub node stopped, every
		// leaf domain was told it works "whatever its links", which reads
		// like a partition at 3 a.m.
		if !anyCut && allAnswered(d) {
			return
		}
		v := d.Views[0]
		if v.MetaLeader != "" && v.HealthyPeers >= v.Quorum && v.HealthyPeers == v.ClusterSize {
			msg := fmt.Sprintf("cluster %s is whole in DC %s: meta leader %s, %d of %d peers current, as its own servers report on their monitoring ports",
				d.Cluster, v.DC, v.MetaLeader, v.HealthyPeers, v.ClusterSize)
			if d.LeafOf != "" {
				msg += fmt.Sprintf("; domain %s keeps working for clients in %s, whatever its links to %s", d.Name, v.DC, d.LeafOf)
			}
			add(LevelNotice, d.Name, "%s", msg)
		}
		return
	}
	viewCut := false
	for _, v := range d.Views {
		viewCut = viewCut || cut[v.DC]
	}
	if !viewCut {
		return
	}
	for _, v := range d.Views {
		switch {
		case v.Error != "":
			add(LevelDegraded, d.Name, "domain %q as seen from DC %s: no server there answered on its monitoring port (%s)", d.Name, v.DC, viewCause(d, v))
		case v.MetaLeader != "" && v.HealthyPeers >= v.Quorum:
			add(LevelDegraded, d.Name, "domain %q as seen from DC %s: meta leader %s with %d of %d peers healthy (quorum %d): JetStream administration works on this side; streams with a majority of replicas here take writes",
				d.Name, v.DC, v.MetaLeader, v.HealthyPeers, v.ClusterSize, v.Quorum)
		case v.MetaLeader != "":
			// A leader cut off from its majority keeps claiming the role
			// until it notices; it can commit nothing.
			add(LevelDegraded, d.Name, "domain %q as seen from DC %s: %s still claims the meta leadership but reaches %d of %d peers, quorum needs %d: nothing can be created, changed or peer-removed from here; streams with a majority of replicas here still take writes",
				d.Name, v.DC, v.MetaLeader, v.HealthyPeers, v.ClusterSize, v.Quorum)
		default:
			size := v.ClusterSize
			if size == 0 && cl != nil {
				size = len(cl.Active())
			}
			if q := size/2 + 1; len(v.Answered) >= q {
				// Enough servers for a quorum and no leader: the leader was
				// on the other side and this side has not elected its own
				// yet (seconds after a cut), not a lasting state.
				add(LevelDegraded, d.Name, "domain %q as seen from DC %s: no meta leader on this side yet, though %d of %d servers here answer (quorum needs %d): they are electing one, as they do in the seconds after a cut; run dcctl status again",
					d.Name, v.DC, len(v.Answered), size, q)
				continue
			}
			add(LevelDegraded, d.Name, "domain %q as seen from DC %s: no meta leader on this side (%d of %d servers here answer, quorum needs %d): no stream can be created, changed or peer-removed from here; streams with a majority of replicas here still take writes",
				d.Name, v.DC, len(v.Answered), size, size/2+1)
		}
	}
}

// viewCause says in a few words why no server of v's DC answered on its
// monitoring port: "SSH to NODE (HOST): CAUSE" for each whose host SSH did
// not reach, else the gist of the last error. The raw chain named the URL,
// the SSH user and the key file's path.
func viewCause(d *Domain, v SideView) string {
	var parts []string
	for _, s := range d.Servers {
		if s.DC == v.DC && s.sshCause != "" {
			parts = append(parts, fmt.Sprintf("SSH to %s (%s): %s", s.Name, s.Host, s.sshCause))
		}
	}
	const shown = 3
	if len(parts) > shown {
		parts = append(parts[:shown], fmt.Sprintf("and %d more", len(parts)-shown))
	}
	switch {
	case len(parts) > 0:
		return strings.Join(parts, "; ")
	case v.err != nil:
		return remote.ShortCause(v.err)
	}
	return v.Error
}
