package status

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/jetstream"
	"github.com/dcctl/dcctl/provision"
	"github.com/dcctl/dcctl/words"
)

// warnings derives what the operator must know from the report: every
// degraded state, with what it means and what to do, then the standing
// risks of the topology that `dcctl validate` also names.
func warnings(inv *inventory.Inventory, r *Report) []Warning {
	out := []Warning{}
	add := func(level, domain, format string, a ...any) {
		out = append(out, Warning{Level: level, Domain: domain, Message: fmt.Sprintf(format, a...)})
	}
	if r.NATSError != "" {
		add(LevelDegraded, "", "no NATS server could be asked: %s", r.NATSError)
	}
	for _, a := range r.RefusedAccounts {
		// One warning for the whole report: the account is refused by every
		// server, and every domain's streams table lacks its streams.
		add(LevelDegraded, "", "%s; the streams below are the other accounts' only", a.Error)
	}
	cut := partitionWarnings(inv, r, add)
	for _, d := range r.Domains {
		sideWarnings(inv, d, cut, add)
		if allCut(inv, d, cut) {
			continue // a domain wholly in cut DCs: their warning stands for it
		}
		metaWarnings(d, inCut(inv, cut), add)
		replacing := memberWarnings(inv, d, add)
		routeWarnings(inv, d, add)
		for _, s := range d.Servers {
			if cut[s.DC] {
				continue // the DC's warning stands for its servers
			}
			if !replacing[s.Name] { // the replacement's warning says what to do with it
				serverWarnings(inv, d, s, add)
			}
			certWarnings(r.Time, d, s, add)
		}
		switch {
		case d.StreamsError == "":
		case d.MetaLeader == "":
			// Only the meta leader lists streams; the cause is already
			// warned about, this says what it costs.
			add(LevelDegraded, d.Name, "streams of domain %q cannot be listed without a meta leader; streams whose replicas keep a majority still accept messages", d.Name)
		default:
			add(LevelDegraded, d.Name, "streams of domain %q could not be listed: %s", d.Name, d.StreamsError)
		}
		for _, s := range d.Streams {
			if len(s.CatchingUp) > 0 {
				add(LevelNotice, d.Name, "stream %s: %s", s.Label(), strings.Join(s.CatchingUp, ", "))
			}
			if s.Problem == "" {
				continue
			}
			if s.Leader == "" {
				if w := leaderlessWarning(leaderless(d, s.Label()), s.Replicas, cut); w != "" {
					add(LevelDegraded, d.Name, "%s", w)
					continue
				}
			}
			add(LevelDegraded, d.Name, "%s: while it is degraded, create only R1 consumers on it until it is whole (consumers with more replicas may not come up)", s.Problem)
		}
		placementWarnings(inv, d, add)
		for _, name := range unlisted(d) {
			w := leaderlessWarning(leaderless(d, name), 0, cut)
			if w == "" {
				w = fmt.Sprintf("stream %s did not answer: it has no leader or its leader is offline", name)
			}
			add(LevelDegraded, d.Name, "%s", w)
		}
		for _, l := range d.Leafnodes {
			if l.Hub == "" {
				add(LevelDegraded, d.Name, "%s has no leafnode link to cluster %s for account %s: messages of that account do not cross between %s and %s",
					l.Server, d.LeafOf, l.Account, d.Cluster, d.LeafOf)
			}
		}
	}
	releaseWarnings(r, add)
	if w := clockWarning(r); w != "" {
		// A notice, not a degraded state: service goes on until a clock is
		// off by about the hour certificates are backdated, and the exit
		// code says whether the deployment serves.
		add(LevelNotice, "", "%s", w)
	}
	if w := inventoryNotice(inv, r); w != "" {
		add(LevelNotice, "", "%s", w)
	}
	return out
}

// inventoryNotice is one line for the inventory's own warnings (those of
// the reported domains' clusters and the deployment-wide ones), "" when
// there are none. They are standing risks of the configuration, not the
// deployment's state: in full, as `dcctl validate` says them, they took a
// paragraph each of every status (and of every --watch screen) above or
// among what is wrong now. Each is named by its key and first clause, so a
// change to them still shows, and validate says the rest.
func inventoryNotice(inv *inventory.Inventory, r *Report) string {
	var parts []string
	for _, w := range inv.Warnings() {
		if strings.HasPrefix(w.Key, "clusters.") {
			if cl := warnedCluster(inv, w.Key); cl == nil || !reported(r, cl.Domain) {
				continue
			}
		}
		gist, _, _ := strings.Cut(w.Msg, ":")
		parts = append(parts, fmt.Sprintf("%s (%s)", w.Key, gist))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("the inventory has %s: %s; `dcctl validate %s` says what each means and what to do",
		words.Count(len(parts), "warning"), strings.Join(parts, "; "), inv.File)
}

func reported(r *Report, domain string) bool {
	for _, d := range r.Domains {
		if d.Name == domain {
			return true
		}
	}
	return false
}

// allCut reports whether every active server of d is in a cut DC.
func allCut(inv *inventory.Inventory, d *Domain, cut map[string]bool) bool {
	cl := inv.Cluster(d.Cluster)
	if cl == nil || len(cut) == 0 {
		return false
	}
	for _, n := range cl.Active() {
		if !cut[n.DC] {
			return false
		}
	}
	return true
}

// inCut reports whether a server is in a DC partitionWarnings spoke for.
func inCut(inv *inventory.Inventory, cut map[string]bool) func(string) bool {
	return func(server string) bool {
		n := inv.Node(server)
		return n != nil && cut[n.DC]
	}
}

func metaWarnings(d *Domain, skip func(server string) bool, add func(level, domain, format string, a ...any)) {
	if d.MetaLeader == "" {
		switch {
		case d.Responded == 0:
			add(LevelDegraded, d.Name, "no server of domain %q answered: the cluster %s is down or unreachable", d.Name, d.Cluster)
		case d.Responded < d.Quorum:
			add(LevelDegraded, d.Name, "no meta leader in domain %q: quorum lost. The cluster expects %d servers but only %d responded; JetStream administration (creating, changing or peer-removing streams) needs at least %d up. Bring servers back before changing anything",
				d.Name, d.ClusterSize, d.Responded, d.Quorum)
		default:
			add(LevelDegraded, d.Name, "no meta leader in domain %q although %d of %d servers responded: an election is under way or the servers cannot reach each other (check routes)",
				d.Name, d.Responded, d.ClusterSize)
		}
		return
	}
	for _, p := range d.Meta {
		switch {
		case p.Current && p.Online:
		case skip(p.Name):
		case !p.Online:
			seen := ""
			if p.ActiveMS > 0 {
				seen = fmt.Sprintf(" (last heard %s ago)", fmtDuration(time.Duration(p.ActiveMS)*time.Millisecond))
			}
			add(LevelDegraded, d.Name, "meta group peer %s is offline%s", p.Name, seen)
		default:
			add(LevelDegraded, d.Name, "meta group peer %s is not current (lag %d)", p.Name, p.Lag)
		}
	}
	// The meta quorum rule is jetstream's, as for the gates and runbooks.
	m := d.metaGroup()
	healthy := m.HealthyPeers("")
	switch {
	case m.QuorumHealthy() != nil:
		add(LevelDegraded, d.Name, "meta group of domain %q has %d healthy peers, quorum needs %d: quorum lost", d.Name, len(healthy), d.Quorum)
	case len(healthy) < d.ClusterSize && m.QuorumWithout(healthy[0]) != nil:
		add(LevelDegraded, d.Name, "domain %q can lose no further server: %d of %d meta peers healthy, quorum is %d", d.Name, len(healthy), d.ClusterSize, d.Quorum)
	}
}

// metaGroup is the domain's meta group as jetstream's rules read it.
func (d *Domain) metaGroup() *jetstream.MetaGroup {
	m := &jetstream.MetaGroup{Domain: d.Name, Leader: d.MetaLeader, Size: d.ClusterSize, Quorum: d.Quorum}
	for _, p := range d.Meta {
		m.Peers = append(m.Peers, jetstream.Peer{Name: p.Name, Leader: p.Leader, Current: p.Current, Offline: !p.Online, Lag: p.Lag})
	}
	return m
}

func orHub(leafOf string) string {
	if leafOf == "" {
		return "the hub"
	}
	return "cluster " + leafOf
}

func serverWarnings(inv *inventory.Inventory, d *Domain, s *Server, add func(level, domain, format string, a ...any)) {
	if s.Standby {
		if s.Unit == "active" {
			add(LevelNotice, d.Name, "standby node %s is running: provision it as a member (standby = false) or stop it", s.Name)
		}
		return
	}
	unit := inv.NATS.Service + ".service"
	if !s.Online && s.Monitoring == monitorAnswered {
		add(LevelDegraded, d.Name, "server %s (%s) runs (its monitoring port answers) but does not answer over NATS from here: the links it would answer through are cut or down (for a leaf server, its system-account leafnode link to %s)",
			s.Name, s.Host, orHub(d.LeafOf))
	} else if !s.Online {
		msg := fmt.Sprintf("server %s (%s) did not answer over NATS: offline", s.Name, s.Host)
		if s.Unit != "" && s.Unit != "unreachable" {
			msg += fmt.Sprintf("; %s is %s", unit, s.Unit)
		}
		if s.UnitDetail != nil && s.UnitDetail.StoppedBy != "" {
			msg += "; " + provision.StoppedNote(s.Name, s.UnitDetail.StoppedBy)
		}
		add(LevelDegraded, d.Name, "%s", msg)
	}
	if s.Online && s.Healthz != nil && !s.Healthz.OK() {
		// It answers everything else: only its own verdict tells (on the
		// lab, a server reloaded without an account that held streams said
		// 503 for minutes while status called the deployment healthy).
		why := ""
		if s.Healthz.Error != "" {
			why = ": " + s.Healthz.Error
		}
		add(LevelDegraded, d.Name, "server %s (%s) answers over NATS, but its /healthz answers %d%s; the health gate of provision and the runbooks does not pass it in this state",
			s.Name, s.Host, s.Healthz.Code, why)
	}
	if s.Unit == "active" && s.UnitDetail != nil && len(s.UnitDetail.Pending) > 0 {
		// Healthy by every other measure, on its old config: only a look
		// at the files tells (after a Ctrl-C in provision, or a gate that
		// timed out), and the next restart for any reason would apply it.
		add(LevelNotice, d.Name, "%s runs on an older config than the one installed (%s): a provision stopped before restarting it; `dcctl provision` restarts it behind the health gate",
			s.Name, strings.Join(s.UnitDetail.Pending, ", "))
	}
	switch s.Unit {
	case "", "active":
	case "unreachable":
		add(LevelDegraded, d.Name, "host of %s (%s) is unreachable over SSH: %s", s.Name, s.Host, s.UnitError)
	case "unknown":
		add(LevelDegraded, d.Name, "could not read the state of %s on %s: %s", unit, s.Name, s.UnitError)
	default:
		if s.Online {
			add(LevelDegraded, d.Name, "%s on %s is %s although the server answers: check for a server started outside systemd", unit, s.Name, s.Unit)
		}
	}
}

// placementWarnings names the streams of a cluster that spans data centers
// whose every replica sits in one DC: losing that DC (or being cut off from
// it) takes the whole stream. A stream still catching up is left alone.
func placementWarnings(inv *inventory.Inventory, d *Domain, add func(level, domain, format string, a ...any)) {
	cl := inv.Cluster(d.Cluster)
	if cl == nil {
		return
	}
	spans := map[string]bool{}
	for _, n := range cl.Active() {
		spans[n.DC] = true
	}
	if len(spans) < 2 {
		return
	}
	for _, s := range d.Streams {
		if len(s.ReplicasByDC) != 1 || len(s.Peers) != s.Replicas {
			continue
		}
		for dc := range s.ReplicasByDC {
			args := s.Name + " --domain " + d.Name
			if s.Label() != s.Name {
				args += " --account " + s.Account
			}
			// A stream whose placement tag keeps it in the DC was placed so on
			// purpose: the risk stands, advice to place it with --tag does not.
			if tag := inventory.DCTag(dc); slices.ContainsFunc(s.PlacementTags, func(t string) bool { return strings.EqualFold(t, tag) }) {
				add(LevelNotice, d.Name, "every replica of stream %s (R%d) is in data center %s, as its placement tag %s asks, although cluster %s spans %d DCs: losing %s loses the stream",
					s.Label(), s.Replicas, dc, tag, d.Cluster, len(spans), dc)
				continue
			}
			add(LevelNotice, d.Name, "every replica of stream %s (R%d) is in data center %s although cluster %s spans %d DCs: losing %s loses the stream; spread it (dcctl runbook expand-stream %s --replicas N) or place it on purpose with --tag",
				s.Label(), s.Replicas, dc, d.Cluster, len(spans), dc, args)
		}
	}
}

// certRenewWarning is how long before its end a server's certificate is
// worth a warning: provision renews it from then on.
const certRenewWarning = 30 * 24 * time.Hour

// certWarnings: a server whose TLS certificate ended is degraded (clients
// and peers that verify it are refused); one that ends within 30 days is a
// notice, since provision renews it.
func certWarnings(now time.Time, d *Domain, s *Server, add func(level, domain, format string, a ...any)) {
	if s.NATS == nil || s.NATS.CertNotAfter.IsZero() {
		return
	}
	end := s.NATS.CertNotAfter
	switch left := end.Sub(now); {
	case left <= 0:
		add(LevelDegraded, d.Name, "the TLS certificate of %s ended %s: clients and peers that verify it are refused; run `dcctl provision` to issue a new one", s.Name, end.UTC().Format(time.DateOnly))
	case left < certRenewWarning:
		add(LevelNotice, d.Name, "the TLS certificate of %s ends %s (in %d days): run `dcctl provision` to renew it", s.Name, end.UTC().Format(time.DateOnly), int(left.Hours()/24))
	}
}

// warnedCluster is the cluster a warning's key names, written as TOML
// writes it (a name with a dot is quoted).
func warnedCluster(inv *inventory.Inventory, key string) *inventory.Cluster {
	for _, cl := range inv.Clusters {
		if inventory.Key("clusters", cl.Name) == key {
			return cl
		}
	}
	return nil
}

// clockWarning names the hosts whose clock is off by more than
// provision.ClockSkewLimit, "" when none is.
func clockWarning(r *Report) string {
	var off []string
	for _, d := range r.Domains {
		for _, s := range d.Servers {
			if s.ClockOffsetS == nil {
				continue
			}
			if o := time.Duration(*s.ClockOffsetS * float64(time.Second)); o > provision.ClockSkewLimit || o < -provision.ClockSkewLimit {
				off = append(off, fmt.Sprintf("%s (%s) %s", s.Name, s.Host, provision.DescribeClockOffset(o)))
			}
		}
	}
	return provision.ClockWarning(off)
}
