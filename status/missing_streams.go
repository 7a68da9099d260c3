package status

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dcctl/dcctl/jetstream"
)

// LeaderlessStream says where the replicas of a stream without a leader
// are: "did not answer" or "has no leader" alone sent operators looking for
// a broken stream when most of its replicas were in a DC cut off from here.
type LeaderlessStream struct {
	Stream string `json:"stream"`
	// Replicas are the servers holding a replica, as the stream's listing
	// and the servers' monitoring ports name them; empty when none of the
	// servers that answered holds one.
	Replicas []string `json:"replicas"`
	// Silent are the servers of Replicas that do not answer over NATS, and
	// SilentDCs their DCs.
	Silent    []string `json:"silent"`
	SilentDCs []string `json:"silent_dcs"`
	// Leader is a leader that answered only on its monitoring port (over
	// SSH): on the other side of a cut, where clients can still use it.
	Leader string `json:"leader_elsewhere,omitempty"`

	// known: the servers that answered were asked which replicas they hold
	// (their monitoring ports, or the stream's own listing).
	known bool
}

// leaderlessStreams places the replicas of d's streams without a leader:
// those listed without one, and those that did not answer at all (mon, when
// the servers' monitoring ports were asked: their streams, and the holders
// of those without a leader).
func leaderlessStreams(d *Domain, mon *jetstream.StreamList) []LeaderlessStream {
	dcOf, online := map[string]string{}, map[string]bool{}
	for _, s := range d.Servers {
		dcOf[s.Name], online[s.Name] = s.DC, s.Online
	}
	place := func(name string, replicas []string, known bool) LeaderlessStream {
		m := LeaderlessStream{Stream: name, Replicas: slices.Clone(replicas), Silent: []string{}, SilentDCs: []string{}, known: known}
		if mon != nil {
			m.known = true
			for ref, holders := range mon.Holders {
				if sameStream(ref, name) {
					m.Replicas = append(m.Replicas, holders...)
				}
			}
			for _, st := range mon.Streams {
				if sameStream(st.Ref(), name) {
					m.Replicas, m.Leader = append(m.Replicas, st.Peers()...), st.Leader
				}
			}
		}
		slices.Sort(m.Replicas)
		m.Replicas = slices.Compact(m.Replicas)
		if m.Replicas == nil {
			m.Replicas = []string{}
		}
		for _, p := range m.Replicas {
			if !online[p] {
				m.Silent = append(m.Silent, p)
				if dc := dcOf[p]; dc != "" && !slices.Contains(m.SilentDCs, dc) {
					m.SilentDCs = append(m.SilentDCs, dc)
				}
			}
		}
		slices.Sort(m.SilentDCs)
		return m
	}
	var out []LeaderlessStream
	listed := map[string]bool{}
	for _, s := range d.Streams {
		listed[s.Label()] = true
		if s.Leader != "" {
			continue
		}
		var peers []string
		for _, p := range s.Peers {
			peers = append(peers, p.Name)
		}
		out = append(out, place(s.Label(), peers, true))
	}
	for _, name := range d.MissingStreams {
		if !listed[name] {
			out = append(out, place(name, nil, false))
		}
	}
	return out
}

// sameStream matches a holder's ACCOUNT/NAME with a stream's label, which
// carries its account only when the report has several.
func sameStream(ref, name string) bool {
	return ref == name || (!strings.Contains(name, "/") && strings.HasSuffix(ref, "/"+name))
}

// leaderlessWarning says why a stream has no leader, where its replicas
// are, and that it comes back with them; "" when its replicas' servers all
// answer (an election, said elsewhere). replicas is its configured count.
func leaderlessWarning(m LeaderlessStream, replicas int, cut map[string]bool) string {
	where := func(dcs []string) string {
		var parts []string
		for _, dc := range dcs {
			p := "DC " + dc
			if cut[dc] {
				p += ", cut off from here"
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "; ")
	}
	var cutDCs []string
	for dc, c := range cut {
		if c {
			cutDCs = append(cutDCs, dc)
		}
	}
	slices.Sort(cutDCs)
	const keep = "its replicas keep its messages: do not recreate, delete or peer-remove it on this evidence"
	if len(m.Replicas) == 0 {
		if !m.known || len(cutDCs) == 0 {
			return ""
		}
		return fmt.Sprintf("stream %s did not answer: none of the servers that answer here holds a replica, so its replicas are on servers that do not answer (%s): it has no leader until they are back; %s",
			m.Stream, where(cutDCs), keep)
	}
	if len(m.Silent) == 0 {
		return ""
	}
	n := max(replicas, len(m.Replicas))
	silent := len(m.Silent)
	need := n/2 + 1
	if n-silent >= need {
		return "" // enough replicas answer to elect one: an election
	}
	count := fmt.Sprintf("%d of its %d replicas are", silent, n)
	if silent == n {
		count = fmt.Sprintf("all its %d replicas are", n)
	}
	msg := fmt.Sprintf("stream %s has no leader: %s on servers that do not answer (%s in %s)",
		m.Stream, count, strings.Join(m.Silent, ", "), where(m.SilentDCs))
	switch here := n - silent; here {
	case 0:
	case 1:
		msg += fmt.Sprintf(", and the one that answers cannot elect a leader alone (a leader needs %d of %d)", need, n)
	default:
		msg += fmt.Sprintf(", and the %d that answer cannot elect a leader alone (a leader needs %d of %d)", here, need, n)
	}
	msg += ": it takes no messages here until they are back; " + keep
	if m.Leader != "" {
		msg += fmt.Sprintf(". On the other side of the cut it has leader %s (it answers on its monitoring port): clients there can use it", m.Leader)
	}
	return msg
}

// leaderless is d's placement of the stream named name (its label).
func leaderless(d *Domain, name string) LeaderlessStream {
	for _, m := range d.Leaderless {
		if m.Stream == name {
			return m
		}
	}
	return LeaderlessStream{Stream: name}
}

// unlisted are d's MissingStreams that the listing does not show without
// a leader already (nats-server lists a stream whose replicas are all
// offline, and names it missing too).
func unlisted(d *Domain) []string {
	var out []string
	for _, name := range d.MissingStreams {
		if !slices.ContainsFunc(d.Streams, func(s *Stream) bool { return s.Label() == name }) {
			out = append(out, name)
		}
	}
	return out
}
