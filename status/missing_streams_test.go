package status_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/status"
)

// TestDCCutStreamsWithoutLeader: with a DC cut off, a stream with most of its
// replicas there has no leader on this side. The report says where those
// replicas are and that the stream comes back with them, not just that it
// "did not answer"; so for a stream wholly in the cut DC.
func TestDCCutStreamsWithoutLeader(t *testing.T) {
	spec := testcluster.Other()
	hub := spec.Clusters[0]
	far := hub.Nodes[len(hub.Nodes)-1].DC
	// One near node and every far node carry a tag: an R3 stream placed by
	// it has one replica near and the others far.
	var tagged, farNodes []string
	for _, n := range hub.Nodes {
		if n.DC == far || len(tagged) == 0 {
			tagged = append(tagged, n.Name)
		}
	}
	if len(tagged) != 3 {
		t.Fatalf("the test wants a backbone with 2 nodes in %s: %v", far, tagged)
	}
	path := testcluster.WriteInventory(t, spec)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, n := range tagged {
		header := fmt.Sprintf("[nodes.%q]\n", n)
		if !strings.Contains(text, header) {
			t.Fatalf("inventory has no %s", header)
		}
		text = strings.Replace(text, header, header+"server_tags = [\"split\"]\n", 1)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c := testcluster.Start(t, path)
	js := c.JetStream(t, hub.Domain)
	testcluster.CreateStream(t, js, njs.StreamConfig{Name: "split", Subjects: []string{"split.>"}, Replicas: 3, Storage: njs.FileStorage,
		Placement: &njs.Placement{Tags: []string{"split"}}}, testwait.Converge)
	testcluster.CreateStream(t, js, njs.StreamConfig{Name: "faraway", Subjects: []string{"faraway.>"}, Replicas: 2, Storage: njs.FileStorage,
		Placement: &njs.Placement{Tags: []string{"dc:" + far}}}, testwait.Converge)
	testcluster.Publish(t, js, "split", 3)
	for _, cl := range spec.Clusters {
		for _, n := range cl.Nodes {
			if n.DC == far {
				c.Stop(n.Name)
				if cl.Name == hub.Name {
					farNodes = append(farNodes, n.Name)
				}
			}
		}
	}
	c.WaitMetaLeader(hub.Domain, testwait.Converge)
	s := session(t, c)
	placed := func(d *status.Domain, stream string) *status.LeaderlessStream {
		for i := range d.Leaderless {
			if d.Leaderless[i].Stream == stream {
				return &d.Leaderless[i]
			}
		}
		return nil
	}
	r := waitReport(t, s, settle, func(r *status.Report) error {
		d := domain(r, hub.Domain)
		for _, stream := range []string{"split", "faraway"} {
			if m := placed(d, stream); d.MetaLeader == "" || m == nil || !slices.Equal(m.Silent, farNodes) {
				return fmt.Errorf("meta leader %q, leaderless streams %+v", d.MetaLeader, d.Leaderless)
			}
		}
		return nil
	})
	var out bytes.Buffer
	r.Write(&out)
	t.Logf("report:\n%s", out.String())
	d := domain(r, hub.Domain)
	if m := placed(d, "split"); !slices.Equal(m.SilentDCs, []string{far}) || !slices.Contains(m.Replicas, tagged[0]) {
		t.Errorf("split placed as %+v; want a replica on %s and the silent ones in %s", m, tagged[0], far)
	}
	want := map[string]string{
		"split": fmt.Sprintf("stream split has no leader: 2 of its 3 replicas are on servers that do not answer (%s in DC %s, cut off from here), and the one that answers cannot elect a leader alone (a leader needs 2 of 3): it takes no messages here until they are back",
			strings.Join(farNodes, ", "), far),
		"faraway": fmt.Sprintf("stream faraway has no leader: all its 2 replicas are on servers that do not answer (%s in DC %s, cut off from here): it takes no messages here until they are back",
			strings.Join(farNodes, ", "), far),
	}
	for stream, w := range want {
		found := false
		for _, wr := range r.Warnings {
			if strings.HasPrefix(wr.Message, w) {
				found = true
			}
			if strings.Contains(wr.Message, "stream "+stream+" did not answer") || strings.Contains(wr.Message, "stream "+stream+" has no leader: while it is degraded") {
				t.Errorf("a warning that does not say where the replicas are: %s", wr.Message)
			}
		}
		if !found {
			t.Errorf("no warning starts %q", w)
		}
	}
	if !strings.Contains(out.String(), "2 of its 3 replicas") {
		t.Error("the text does not say where split's replicas are")
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"leaderless_streams"`) || !strings.Contains(string(data), `"silent_dcs":["`+far+`"]`) {
		t.Errorf("the JSON does not place the missing streams' replicas")
	}
}
