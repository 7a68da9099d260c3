package testcluster_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
)

// TestSeedBoots starts the example topology from its rendered configs and
// checks what every other test takes for granted: each node runs, each domain
// has a meta leader among its own cluster's nodes with the whole cluster in
// its meta group, and an R3 stream in each domain takes messages through the
// independent client and Publish.
func TestSeedBoots(t *testing.T) {
	spec := testcluster.Seed()
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))

	var want []string
	for _, cl := range spec.Clusters {
		for _, n := range cl.Nodes {
			want = append(want, n.Name)
		}
	}
	slices.Sort(want)
	if got := c.Running(); !slices.Equal(got, want) {
		t.Fatalf("running %v, want %v", got, want)
	}

	for _, cl := range spec.Clusters {
		var members []string
		for _, n := range cl.Nodes {
			members = append(members, n.Name)
		}
		leader := c.MetaLeader(cl.Domain)
		if !slices.Contains(members, leader) {
			t.Errorf("domain %s: meta leader %q is not a node of cluster %s %v", cl.Domain, leader, cl.Name, members)
			continue
		}
		testwait.Eventually(t, testwait.Converge, "meta group of "+cl.Domain+" whole", func() error {
			jsz, err := c.Server(leader).Jsz(nil)
			if err != nil {
				return err
			}
			if jsz.Meta == nil {
				return errors.New("no meta group in /jsz")
			}
			peers := []string{jsz.Meta.Leader}
			for _, p := range jsz.Meta.Replicas {
				if p.Current && !p.Offline {
					peers = append(peers, p.Name)
				}
			}
			slices.Sort(peers)
			if !slices.Equal(peers, members) {
				return fmt.Errorf("current meta peers %v, want %v", peers, members)
			}
			return nil
		})

		js := c.JetStream(t, cl.Domain)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		name := strings.ToUpper(cl.Domain) + "_BOOT"
		s := testcluster.CreateStream(t, js, njs.StreamConfig{Name: name, Subjects: []string{cl.Domain + ".boot.>"}, Replicas: 3}, testwait.Converge)
		testcluster.Publish(t, js, cl.Domain+".boot.>", 10)
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 10 || info.State.NumSubjects != 7 {
			t.Errorf("stream %s in domain %s holds %d messages on %d subjects, want 10 on 7", name, cl.Domain, info.State.Msgs, info.State.NumSubjects)
		}
		if info.Cluster == nil || !slices.Contains(members, info.Cluster.Leader) {
			t.Errorf("stream %s in domain %s: leader outside cluster %s: %+v", name, cl.Domain, cl.Name, info.Cluster)
		}
	}
}
