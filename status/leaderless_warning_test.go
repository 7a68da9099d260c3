package status

import (
	"strings"
	"testing"
)

// TestLeaderlessWarning: what the warning of a stream without a leader says
// where its replicas are, and when it leaves the word to another warning.
func TestLeaderlessWarning(t *testing.T) {
	d := &Domain{Servers: []*Server{
		{Name: "w1", DC: "west", Online: true}, {Name: "w2", DC: "west", Online: true},
		{Name: "e1", DC: "east"}, {Name: "e2", DC: "east"},
	}, MissingStreams: []string{"ghost", "half"}}
	d.Leaderless = leaderlessStreams(d, nil)
	cut := map[string]bool{"east": true}
	for _, tc := range []struct {
		name     string
		m        LeaderlessStream
		replicas int
		want     string // "" for no placement warning
	}{
		{"nothing known of a stream that did not answer", leaderless(d, "ghost"), 0, ""},
		{"no server that answers holds it", LeaderlessStream{Stream: "ghost", Replicas: []string{}, known: true}, 0,
			"stream ghost did not answer: none of the servers that answer here holds a replica, so its replicas are on servers that do not answer (DC east, cut off from here): it has no leader until they are back"},
		{"most replicas silent", LeaderlessStream{Stream: "half", Replicas: []string{"e1", "e2", "w1"}, Silent: []string{"e1", "e2"}, SilentDCs: []string{"east"}, known: true}, 3,
			"stream half has no leader: 2 of its 3 replicas are on servers that do not answer (e1, e2 in DC east, cut off from here), and the one that answers cannot elect a leader alone (a leader needs 2 of 3)"},
		{"a leader on the other side", LeaderlessStream{Stream: "far", Replicas: []string{"e1", "e2"}, Silent: []string{"e1", "e2"}, SilentDCs: []string{"east"}, Leader: "e1", known: true}, 2,
			"stream far has no leader: all its 2 replicas are on servers that do not answer (e1, e2 in DC east, cut off from here): it takes no messages here until they are back; its replicas keep its messages: do not recreate, delete or peer-remove it on this evidence. On the other side of the cut it has leader e1"},
		{"a majority answers: an election", LeaderlessStream{Stream: "soon", Replicas: []string{"e1", "w1", "w2"}, Silent: []string{"e1"}, SilentDCs: []string{"east"}, known: true}, 3, ""},
	} {
		got := leaderlessWarning(tc.m, tc.replicas, cut)
		if (tc.want == "") != (got == "") || !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q...", tc.name, got, tc.want)
		}
	}
}
