package runbooks

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/jetstream"
)

// ReplacePeer moves every stream replica off a node that is gone (its
// streams get their replica count back on other servers),
// optionally removes it from the meta group for good and brings up a
// replacement under a new server name.
type ReplacePeer struct {
	Node        string
	Replacement string // a node of the same cluster in the inventory, usually standby
	Permanent   bool   // also remove Node from the meta group
	Force       bool   // do not require Node to be down

	domain   string
	retired  bool                    // Node's host got the removed marker, its unit is disabled
	affected []jetstream.StreamState // of every JetStream account
	before   map[streamRef]*jetstream.Baseline
}

func (r *ReplacePeer) Name() string { return "replace-peer" }

// Next: the inventory still says NODE runs and NEWNODE stands by, and
// provision does what the inventory says: it would start NODE again, a
// server --permanent took out of the meta group, were it not for the
// removed marker on NODE's host, and never route to NEWNODE.
func (r *ReplacePeer) Next(e *Env) []string {
	var out []string
	if r.Permanent && !r.retired {
		out = append(out, RetireAdvice(r.Node, e.Inv.File))
	}
	if r.Replacement != "" {
		out = append(out, fmt.Sprintf("in %s, set standby = false on %s (it runs now): otherwise provision leaves the other nodes without a route to it", e.Inv.File, r.Replacement))
	}
	switch {
	case r.Permanent && r.retired:
		out = append(out, fmt.Sprintf("in %s, remove [nodes.%s] (it left the meta group for good; until then provision leaves it stopped, as the marker on its host says)", e.Inv.File, r.Node))
	case r.Permanent:
		out = append(out, fmt.Sprintf("in %s, remove [nodes.%s] (it left the meta group for good): otherwise provision starts it again", e.Inv.File, r.Node))
	}
	if len(out) > 0 {
		return append(out, fmt.Sprintf("then: dcctl provision %s", e.Inv.File))
	}
	return []string{fmt.Sprintf("once %s's host is fixed: dcctl runbook restore-node %s %s", r.Node, r.Node, e.Inv.File)}
}

// RetireAdvice is the next step of a --permanent run that could not reach
// node's host: running the runbook again once the host answers retires
// node there (the steps done are skipped). `node stop` would not do: its
// plain stop marker reads as an operator's pause, which `node start` ends.
func RetireAdvice(node, inv string) string {
	return fmt.Sprintf("once %s's host answers again, while the inventory still lists it: dcctl runbook replace-peer %s --permanent %s "+
		"(it skips what is done and retires %s on its host: stops and disables its unit and leaves the removed marker; until then its unit is still enabled and a reboot or provision would start it again)",
		node, node, inv, node)
}

// Describe is the runbook's entry in `dcctl runbook list`.
func (r *ReplacePeer) Describe() Description {
	return Description{
		Name: "replace-peer", Command: "dcctl runbook", Usage: "replace-peer NODE [--replacement NEWNODE] [--permanent] [--force]",
		Short: "move every stream replica off a dead node; optionally drop it from the meta group and bring up a replacement",
		Pre: []string{"the inventory knows NODE (and NEWNODE, a node of the same cluster)", "the domain has a meta leader and keeps quorum without NODE",
			"NODE is really down, on evidence: no ping reply and its host's systemd says the unit is not running; an unreachable host is no evidence (it may be alive behind a partition): refused unless --force, whose risk is printed; with --permanent, a NODE already out of its meta group (an earlier run removed it) passes: retiring it on its host is what is left", "every affected stream (of every JetStream account) has a leader and a current majority without NODE, and a server to take the new replica",
			"baseline of each affected stream"},
		Steps: []string{"provision and start NEWNODE, wait until it is a current meta peer (--replacement)", "stream peer-remove NODE from each affected stream, wait for the new replica to be current",
			"meta peer-remove NODE (--permanent)", "when NODE's host answers: stop and disable its unit and leave the removed marker, so that provision does not start it while the inventory still lists it (--permanent)"},
		Post: []string{"each stream has its replica count, all current, none on NODE; its recorded messages intact (growth allowed; the proof used is named)", "meta group has a leader and quorum; NODE gone (--permanent); NEWNODE current"},
	}
}

func (r *ReplacePeer) Target() string {
	t := r.Node
	if r.Replacement != "" {
		t += " with " + r.Replacement
	}
	if r.Permanent {
		t += " (permanent)"
	}
	return t
}

// Settle finds Node's domain; a replacement must be another node of its
// cluster.
func (r *ReplacePeer) Settle(e *Env) error {
	old := e.Inv.Node(r.Node)
	if old == nil {
		return unknownNode(e, r.Node)
	}
	r.domain = e.Inv.Domain(old)
	return r.knownReplacement(e, old)
}

// knownReplacement refuses a --replacement the inventory shows cannot take
// old's place; none given is fine.
func (r *ReplacePeer) knownReplacement(e *Env, old *inventory.Node) error {
	if r.Replacement == "" {
		return nil
	}
	n := e.Inv.Node(r.Replacement)
	switch {
	case n == nil:
		return fmt.Errorf("no node %q in %s: add it (standby = true, a new server_name: a removed name is not readmitted for minutes)", r.Replacement, e.Inv.File)
	case r.Replacement == r.Node:
		return fmt.Errorf("the replacement must have a new server_name: nats-server does not readmit a removed peer's name for minutes; to bring %s itself back use restore-node", r.Node)
	case n.Cluster != old.Cluster:
		return fmt.Errorf("%s is in cluster %s, %s in %s: the replacement must join the same cluster", r.Replacement, n.Cluster, r.Node, old.Cluster)
	}
	return nil
}

func (r *ReplacePeer) PreChecks(e *Env) []Check {
	var checks []Check
	checks = append(checks,
		metaLeader(e, r.domain),
		metaQuorumWithout(e, r.domain, r.Node),
		r.nodeDown(e),
		r.streamsKeepQuorumWithout(e),
		r.replicaPlacementPossible(e),
		Check{Name: "baselines(affected streams)", Run: func(ctx context.Context) error {
			r.before = map[streamRef]*jetstream.Baseline{}
			for _, st := range r.affected {
				b, s := new(jetstream.Baseline), refOf(st)
				if err := recordBaseline(e, r.domain, &s, b).Run(ctx); err != nil {
					return err
				}
				r.before[s] = b
			}
			return nil
		}},
	)
	return checks
}

// nodeDown asserts Node is really down, on evidence: it does not answer a
// ping (it is not among the servers that replied for its domain) and its
// host's systemd says its unit is not running. A host that cannot be reached
// is no evidence: it may be down, or alive behind a cut between DCs, serving
// the clients on its side. Peer-removing a live node would move its replicas
// while it still serves them.
func (r *ReplacePeer) nodeDown(e *Env) Check {
	return Check{Name: fmt.Sprintf("nodeDown(%s)", r.Node), Run: func(ctx context.Context) error {
		nc, err := e.nats(ctx)
		if err != nil {
			return err
		}
		m, err := nc.Meta(ctx, r.domain)
		if err != nil {
			return err
		}
		if _, member := m.Peer(r.Node); r.Permanent && m.HasLeader() && !member {
			// An earlier --permanent run removed it already: its replicas
			// are gone with it, and a server that runs again (its host
			// back, the unit still enabled) is what the retire step ends.
			if e.Out != nil {
				fmt.Fprintf(e.Out, "          %s is no longer in the meta group of domain %s (removed by an earlier run): what is left is retiring it on its host\n", r.Node, r.domain)
			}
			return nil
		}
		var doubts []string
		alive := false // positive evidence, beside the mere lack of it
		answers, runs := slices.Contains(m.Responded, r.Node), false
		if answers {
			doubts, alive = append(doubts, "it answers pings"), true
		}
		state, err := e.Hosts.UnitState(ctx, r.Node)
		switch {
		case err != nil:
			doubts = append(doubts, "its unit state is unknown: "+err.Error())
		case state == UnitUnreachable:
			doubts = append(doubts, fmt.Sprintf("its host %s cannot be reached over SSH, so nothing says it is down: it may be, or it may be running behind a cut link (a DC partition) and serving the clients on its side (dcctl status shows per DC what this machine reaches)",
				e.Inv.Node(r.Node).SSHAddr()))
		case !unitDown(state):
			doubts, alive, runs = append(doubts, "its unit is "+state), true, true
		}
		if len(doubts) == 0 {
			return nil
		}
		risk := forceRisk(r.Node, r.Permanent)
		if r.Force {
			e.Journal.Write(Entry{Phase: "pre-check", Name: fmt.Sprintf("nodeDown(%s)", r.Node), Result: "overridden",
				Detail: "--force: " + strings.Join(doubts, "; ") + ". Risk accepted: " + risk})
			if e.Out != nil {
				fmt.Fprintf(e.Out, "          --force: %s is not known to be down (%s).\n          Risk: %s\n", r.Node, strings.Join(doubts, "; "), risk)
			}
			return nil
		}
		verdict := "is not known to be down"
		if alive {
			verdict = "is not down"
		}
		if alive && r.Permanent && r.Replacement == "" {
			// Taking a healthy node out for good (shrinking its cluster,
			// retiring its host) comes here too, and "bring it back" is
			// the wrong way round for it.
			return fmt.Errorf("%s %s (%s). To take a running node out for good, stop it first: `dcctl node stop %s`, then run this again, which moves its replicas to the other servers and retires it on its host; then remove [nodes.%s] from the inventory and run `dcctl provision` (its peers drop their routes to it). If it is meant to stay, nothing needs doing. --force would move its replicas while it runs: %s",
				r.Node, verdict, strings.Join(doubts, "; "), r.Node, r.Node, risk)
		}
		if answers && runs {
			// Healthy as seen from here: "bring it back" is the wrong way
			// round; moving its replicas off on purpose starts with a stop.
			return fmt.Errorf("%s %s (%s): it runs and serves, so it has no replicas to rescue. To move its replicas off it on purpose (its host is to be serviced), stop it first: `dcctl node stop %s`, then run this again; if it is meant to stay, nothing needs doing. --force would move its replicas while it runs: %s",
				r.Node, verdict, strings.Join(doubts, "; "), r.Node, risk)
		}
		return fmt.Errorf("%s %s (%s): bring it back with restore-node or `dcctl node restart %s`, or heal the link; if you know it is gone (powered off, destroyed), --force moves its replicas anyway. Risk of --force: %s",
			r.Node, verdict, strings.Join(doubts, "; "), r.Node, risk)
	}}
}

// forceRisk says what --force risks on a node that may be alive.
func forceRisk(node string, permanent bool) string {
	s := fmt.Sprintf("if %s is alive (behind a partition, or only its host unreachable from here), its replicas are taken out of their streams while it still runs them: clients on its side may still be served by it meanwhile, and when the link heals its copies are discarded", node)
	if permanent {
		s += fmt.Sprintf("; with --permanent, %s is dropped from the meta group and its name is not readmitted for minutes", node)
	}
	return s
}

// streamsKeepQuorumWithout finds the streams with a replica on Node and
// asserts each keeps a leader and a current majority without it.
func (r *ReplacePeer) streamsKeepQuorumWithout(e *Env) Check {
	return Check{Name: fmt.Sprintf("streamsKeepQuorumWithout(%s)", r.Node), Run: func(ctx context.Context) error {
		// settle: right after a node died its streams elect new leaders
		// (3.5-7.5 s) and answer nothing meanwhile, and under a steady flow
		// of writes a healthy follower is now and then reported not current
		// for a moment.
		return e.settle(ctx, func() error {
			list, err := domainStreams(ctx, e, r.domain)
			if err != nil {
				return err
			}
			if len(list.Missing) > 0 {
				return fmt.Errorf("streams %s did not answer (no leader?): their replicas cannot be checked; wait for their election or restore their servers", strings.Join(list.Missing, ", "))
			}
			return r.evaluateQuorums(e, list)
		})
	}}
}

// evaluateQuorums notes the streams with a replica on Node and asserts each
// keeps a leader and a current majority without it.
func (r *ReplacePeer) evaluateQuorums(e *Env, list *jetstream.StreamList) error {
	r.affected = nil
	var bad []string
	for _, st := range list.Streams {
		if !st.HasPeer(r.Node) {
			continue
		}
		r.affected = append(r.affected, st)
		if st.Replicas < 2 {
			bad = append(bad, fmt.Sprintf("stream %s is R1 on %s: its only copy is there; bring the node back (restore-node) or restore the stream from a backup", e.label(refOf(st)), r.Node))
			continue
		}
		if err := st.MajorityWithout(r.Node); err != nil {
			if len(e.jsAccounts()) > 1 {
				err = fmt.Errorf("account %s: %w", st.Account, err)
			}
			bad = append(bad, fmt.Sprintf("%v: removing %s could lose acknowledged messages; restore its other servers first", err, r.Node))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// replicaPlacementPossible asserts each affected stream has a server to put
// its new replica on: nats-server refuses a peer-remove that would leave a
// stream short of replicas (a 3-node cluster with an R3 stream has none).
func (r *ReplacePeer) replicaPlacementPossible(e *Env) Check {
	return Check{Name: "replicaPlacementPossible(affected streams)", Run: func(ctx context.Context) error {
		if len(r.affected) == 0 {
			return nil
		}
		on, err := onlineServers(ctx, e, r.domain)
		if err != nil {
			return err
		}
		if r.Replacement != "" && !slices.Contains(on, r.Replacement) {
			on = append(on, r.Replacement) // it joins before the peer-removes
		}
		var bad []string
		for _, st := range r.affected {
			free := 0
			for _, s := range on {
				// A stream placed by tags takes a new replica only on a
				// server carrying them: counting the others let the run
				// reach a peer-remove that nats-server then refused
				// ("peer remap failed").
				if n := e.Inv.Node(s); s != r.Node && !st.HasPeer(s) && (len(st.PlacementTags) == 0 || (n != nil && n.HasTags(st.PlacementTags))) {
					free++
				}
			}
			if free == 0 {
				label := e.label(refOf(st))
				if len(st.PlacementTags) > 0 {
					label += " (placed on servers tagged " + strings.Join(st.PlacementTags, " and ") + ")"
				}
				bad = append(bad, label)
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("no online server outside their peer groups can take a new replica of %s: bring %s back with restore-node, or add a server (carrying the stream's placement tags) with --replacement NEWNODE",
				strings.Join(bad, ", "), r.Node)
		}
		return nil
	}}
}

func (r *ReplacePeer) Steps(e *Env) []Step {
	var steps []Step
	if r.Replacement != "" {
		// First, so that its capacity is there when the replicas move.
		steps = append(steps, Step{
			Name: fmt.Sprintf("provisionAndStart(%s)", r.Replacement),
			Done: func(ctx context.Context) (bool, error) {
				nc, err := e.nats(ctx)
				if err != nil {
					return false, err
				}
				m, err := nc.Meta(ctx, r.domain)
				if err != nil {
					return false, err
				}
				p, ok := m.Peer(r.Replacement)
				return ok && p.Healthy(), nil
			},
			Run: func(ctx context.Context, progress func(string)) error {
				progress("provisioning " + r.Replacement)
				if err := e.Hosts.Provision(ctx, r.Replacement); err != nil {
					return err
				}
				// provision installs a standby node without starting it.
				progress("starting " + r.Replacement)
				if err := e.Hosts.UnitCtl(ctx, r.Replacement, "start"); err != nil {
					return err
				}
				return waitMetaPeer(ctx, e, r.domain, r.Replacement, true, progress)
			},
		})
	}
	for _, st := range r.affected {
		s := refOf(st)
		steps = append(steps, Step{
			Name:        fmt.Sprintf("streamPeerRemove(%s, %s)", e.label(s), r.Node),
			Destructive: true,
			Done: func(ctx context.Context) (bool, error) {
				nc, err := e.natsIn(ctx, s.Account)
				if err != nil {
					return false, err
				}
				cur, err := nc.Stream(ctx, r.domain, s.Name)
				if err != nil {
					return false, err
				}
				return !cur.HasPeer(r.Node), nil
			},
			Run: func(ctx context.Context, progress func(string)) error {
				nc, err := e.natsIn(ctx, s.Account)
				if err != nil {
					return err
				}
				if err := nc.StreamPeerRemove(ctx, r.domain, s.Name, r.Node); err != nil {
					return err
				}
				if err := waitStreamWithout(ctx, e, r.domain, s, r.Node, progress); err != nil {
					return err
				}
				return waitStreamCurrent(ctx, e, r.domain, s, st.Replicas, progress)
			},
		})
	}
	if r.Permanent {
		steps = append(steps, Step{
			Name:        fmt.Sprintf("metaPeerRemove(%s)", r.Node),
			Destructive: true,
			Done: func(ctx context.Context) (bool, error) {
				nc, err := e.nats(ctx)
				if err != nil {
					return false, err
				}
				m, err := nc.Meta(ctx, r.domain)
				if err != nil {
					return false, err
				}
				_, ok := m.Peer(r.Node)
				return !ok, nil
			},
			Run: func(ctx context.Context, progress func(string)) error {
				nc, err := e.nats(ctx)
				if err != nil {
					return err
				}
				if err := nc.MetaPeerRemove(ctx, r.domain, r.Node); err != nil {
					return err
				}
				return waitMetaPeer(ctx, e, r.domain, r.Node, false, progress)
			},
		}, r.retire(e))
	}
	return steps
}

// retire stops and disables Node's unit and leaves the removed marker on its
// host, so that neither a reboot nor the next provision (nor any runbook
// that provisions) starts it again while the inventory still lists it: it
// would rejoin as a meta peer the domain no longer counts. A host that
// cannot be reached is left as it is (the run may have been forced for that
// very reason); Next then says what to do once it answers. A node retired
// already (a re-run) is done: retiring it again would only replace who and
// when on its marker.
func (r *ReplacePeer) retire(e *Env) Step {
	return Step{
		Name:        fmt.Sprintf("retire(%s)", r.Node),
		Destructive: true,
		Done: func(ctx context.Context) (bool, error) {
			done, err := e.Hosts.Retired(ctx, r.Node)
			if done {
				r.retired = true
			}
			return done, err
		},
		Run: func(ctx context.Context, progress func(string)) error {
			state, err := e.Hosts.UnitState(ctx, r.Node)
			if err != nil {
				return err
			}
			if state == UnitUnreachable {
				progress(fmt.Sprintf("%s's host %s cannot be reached: its unit is left as it is (see the next steps)", r.Node, e.Inv.Node(r.Node).SSHAddr()))
				return nil
			}
			progress(fmt.Sprintf("stopping and disabling %s's unit, marking it removed on its host", r.Node))
			if err := e.Hosts.Retire(ctx, r.Node); err != nil {
				return err
			}
			r.retired = true
			return nil
		},
	}
}

func (r *ReplacePeer) PostChecks(e *Env) []Check {
	var checks []Check
	for _, st := range r.affected {
		s := refOf(st)
		checks = append(checks,
			streamReplicasCurrent(e, r.domain, &s, st.Replicas),
			Check{Name: fmt.Sprintf("streamWithout(%s, %s)", e.label(s), r.Node), Run: func(ctx context.Context) error {
				nc, err := e.natsIn(ctx, s.Account)
				if err != nil {
					return err
				}
				cur, err := nc.Stream(ctx, r.domain, s.Name)
				if err != nil {
					return err
				}
				if cur.HasPeer(r.Node) {
					return fmt.Errorf("stream %s still has a replica on %s (%s)", e.label(s), r.Node, strings.Join(cur.Peers(), ", "))
				}
				return nil
			}},
			streamDataIntact(e, r.domain, &s, r.before[s]),
		)
	}
	// Also every other stream of the domain, in every account: one
	// peer-removed by an interrupted earlier run is no longer "affected"
	// but must be whole too.
	checks = append(checks, allStreamsCurrent(e, r.domain))
	checks = append(checks, Check{Name: fmt.Sprintf("metaGroupAsIntended(%s)", r.domain), Run: func(ctx context.Context) error {
		if err := metaLeader(e, r.domain).Run(ctx); err != nil {
			return err
		}
		nc, err := e.nats(ctx)
		if err != nil {
			return err
		}
		m, err := nc.Meta(ctx, r.domain)
		if err != nil {
			return err
		}
		if _, ok := m.Peer(r.Node); ok && r.Permanent {
			return fmt.Errorf("%s is still a member of the meta group of domain %q", r.Node, r.domain)
		}
		if r.Replacement != "" {
			if p, ok := m.Peer(r.Replacement); !ok || !p.Healthy() {
				return fmt.Errorf("replacement %s is not a current meta peer of domain %q", r.Replacement, r.domain)
			}
		}
		return nil
	}})
	return checks
}

// waitMetaPeer waits (up to the env's timeout) until server is a current
// meta peer of domain (present) or gone from it.
func waitMetaPeer(ctx context.Context, e *Env, domain, server string, present bool, progress func(string)) error {
	nc, err := e.nats(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()
	if present {
		progress(fmt.Sprintf("waiting for %s to be a current meta peer of domain %s", server, domain))
	} else {
		progress(fmt.Sprintf("waiting for %s to leave the meta group of domain %s", server, domain))
	}
	if err := nc.WaitMetaPeer(ctx, domain, server, present); err != nil {
		return fmt.Errorf("waited %s: %w", e.timeout(), err)
	}
	return nil
}

// waitStreamWithout waits until server holds no replica of stream. A peer
// that is still online is not dropped at once: the group first places and
// catches up its replacement, then lets it go.
func waitStreamWithout(ctx context.Context, e *Env, domain string, s streamRef, server string, progress func(string)) error {
	return waitStream(ctx, e, domain, s, func(st *jetstream.StreamState) error {
		if !st.HasPeer(server) {
			return nil
		}
		progress(fmt.Sprintf("stream %s: waiting for %s to leave (replicas %s)", e.label(s), server, strings.Join(st.Peers(), ", ")))
		return fmt.Errorf("still has a replica on %s", server)
	})
}
