package runbooks

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dcctl/dcctl/jetstream"
)

// Placement by server tags (--tag dc:us): every replica of the stream on a
// server carrying all the tags, as JetStream placement requires. Every node
// carries dc:<its dc> (docs/inventory.md), so a DC is a tag.

// taggedServers lists the online servers of domain whose inventory node
// carries every one of tags.
func taggedServers(ctx context.Context, e *Env, domain string, tags []string) ([]string, error) {
	on, err := onlineServers(ctx, e, domain)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range on {
		if n := e.Inv.Node(s); n != nil && n.HasTags(tags) {
			out = append(out, s)
		}
	}
	return out, nil
}

// enoughTaggedServers asserts domain has at least n online servers carrying
// every one of tags, naming the tags the inventory knows when none do.
func enoughTaggedServers(e *Env, domain string, tags []string, n *int) Check {
	return Check{Name: fmt.Sprintf("enoughTaggedServers(%s, %s)", domain, strings.Join(tags, " ")), Run: func(ctx context.Context) error {
		return e.settle(ctx, func() error {
			got, err := taggedServers(ctx, e, domain, tags)
			if err != nil {
				return err
			}
			if len(got) >= *n {
				return nil
			}
			var known []string
			for _, node := range e.Inv.Nodes {
				if e.Inv.Domain(node) != domain {
					continue
				}
				for _, t := range node.ServerTags() {
					if !slices.Contains(known, t) {
						known = append(known, t)
					}
				}
			}
			slices.Sort(known)
			have := "no online server"
			switch len(got) {
			case 0:
			case 1:
				have = "1 online server (" + got[0] + ")"
			default:
				have = fmt.Sprintf("%d online servers (%s)", len(got), strings.Join(got, ", "))
			}
			err = fmt.Errorf("domain %q has %s tagged %s, and %d replicas need %d: choose other tags (the domain's servers carry %s), fewer replicas, or bring servers back",
				domain, have, strings.Join(tags, " and "), *n, *n, strings.Join(known, ", "))
			return refuseUnlessAwaited(e, domain, tags, got, err)
		})
	}}
}

// refuseUnlessAwaited ends a settle at once with err when every node of
// domain carrying tags is among online: no election or restart under way
// can add a server then, and the count stands (waiting out the settle
// window would only delay the refusal). While a tagged node is not online
// and current, it may be in an election or back in seconds: err is
// returned as it is, for the settle to ask again.
func refuseUnlessAwaited(e *Env, domain string, tags []string, online []string, err error) error {
	for _, node := range e.Inv.Nodes {
		if !node.Standby && e.Inv.Domain(node) == domain && node.HasTags(tags) && !slices.Contains(online, node.Name) {
			return err
		}
	}
	return jetstream.Stop(err)
}

// replicasCarryTags asserts every replica of stream sits on a server
// carrying every one of tags.
func replicasCarryTags(e *Env, domain string, s *streamRef, tags []string) Check {
	return Check{Name: fmt.Sprintf("replicasCarryTags(%s, %s)", e.label(*s), strings.Join(tags, " ")), Run: func(ctx context.Context) error {
		nc, err := e.natsIn(ctx, s.Account)
		if err != nil {
			return err
		}
		st, err := nc.Stream(ctx, domain, s.Name)
		if err != nil {
			return err
		}
		if bad := untagged(e, st, tags); len(bad) > 0 {
			return fmt.Errorf("stream %s has replicas on %s, not tagged %s", e.label(*s), strings.Join(bad, ", "), strings.Join(tags, " and "))
		}
		return nil
	}}
}

func untagged(e *Env, st *jetstream.StreamState, tags []string) []string {
	var bad []string
	for _, p := range st.Peers() {
		if n := e.Inv.Node(p); n == nil || !n.HasTags(tags) {
			bad = append(bad, p)
		}
	}
	return bad
}

// placeByTags sets stream's placement tags and waits (up to the env's
// timeout) until JetStream has moved every replica onto tagged servers and
// they are current.
func placeByTags(ctx context.Context, e *Env, domain string, s streamRef, tags []string, progress func(string)) error {
	nc, err := e.natsIn(ctx, s.Account)
	if err != nil {
		return err
	}
	if err := nc.SetPlacementTags(ctx, domain, s.Name, tags); err != nil {
		return err
	}
	stream := e.label(s)
	return waitStream(ctx, e, domain, s, func(st *jetstream.StreamState) error {
		bad := untagged(e, st, tags)
		if len(bad) == 0 && st.Current() == nil {
			return nil
		}
		progress(fmt.Sprintf("stream %s: moving to servers tagged %s (replicas %s)", stream, strings.Join(tags, " and "), strings.Join(st.Peers(), ", ")))
		if len(bad) > 0 {
			return fmt.Errorf("not placed by tags %s: replicas still on %s", strings.Join(tags, " and "), strings.Join(bad, ", "))
		}
		return st.Current()
	})
}

// setReplicasAfterMove changes stream's replica count once a placement move
// has ended: JetStream refuses other reconfiguration while it runs, and a
// move can look finished in the stream's replicas a moment before the meta
// group has closed it.
func setReplicasAfterMove(ctx context.Context, e *Env, domain string, s streamRef, n int) error {
	nc, err := e.natsIn(ctx, s.Account)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()
	return jetstream.Poll(wctx, jetstream.PollInterval, func() error {
		err := nc.SetReplicas(wctx, domain, s.Name, n)
		if jetstream.IsErrCode(err, jetstream.ErrCodeStreamMoveInProgress) {
			return err // asked again until the move has ended
		}
		return jetstream.Stop(err)
	})
}

// enoughServersForItsPlacement asserts, for a stream that keeps the
// placement tags it has (no --tag), that n online servers carry them: the
// domain may have n servers while the stream's tags (dc:X of one DC) match
// fewer, and JetStream would refuse the update only at the step. st is read
// when the check runs: an earlier check finds the stream.
func enoughServersForItsPlacement(e *Env, domain string, s *streamRef, st *jetstream.StreamState, n *int) Check {
	return Check{Name: fmt.Sprintf("enoughServersForItsPlacement(%s)", e.label(*s)), Run: func(ctx context.Context) error {
		if len(st.PlacementTags) == 0 {
			return nil
		}
		if err := enoughTaggedServers(e, domain, st.PlacementTags, n).Run(ctx); err != nil {
			return fmt.Errorf("stream %s is placed on servers tagged %s (its placement, kept without --tag): %w",
				e.label(*s), strings.Join(st.PlacementTags, " and "), err)
		}
		return nil
	}}
}
