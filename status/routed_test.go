package status

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// TestRoutedTwice: k1's /routez on the lab after provision (before it
// refused this) had started k3 on its new host while the old k3 ran on: two
// server ids under remote_name k3, from two addresses. status said healthy;
// a leader restart then lost acknowledged messages. Now it is a degraded
// warning naming both addresses and the host the inventory gives k3. A
// server the inventory does not list is warned of while it is routed but
// not a meta peer (a retired node whose server runs again); once a meta
// peer, memberWarnings says it.
func TestRoutedTwice(t *testing.T) {
	type route struct {
		RemoteName string `json:"remote_name"`
		RemoteID   string `json:"remote_id"`
		IP         string `json:"ip"`
	}
	var rz struct {
		Routes []route `json:"routes"`
	}
	// as captured (route pool of 3 plus the system account's route per peer)
	for _, r := range []route{{"k2", "NA7T36OU", "10.77.2.11"}, {"k3", "NCJQEJAG", "10.77.2.12"}, {"k3", "NCHZVFT6", "10.77.2.13"}, {"k4", "NDLKYEZ3", "10.77.1.12"}} {
		for range 4 {
			rz.Routes = append(rz.Routes, r)
		}
	}
	body, _ := json.Marshal(rz)
	k3 := &inventory.Node{Name: "k3", Cluster: "mesh", Host: "10.77.2.13"}
	cl := &inventory.Cluster{Name: "mesh", Domain: "mjs", Nodes: []*inventory.Node{{Name: "k1", Cluster: "mesh"}, {Name: "k2", Cluster: "mesh"}, k3}}
	inv := &inventory.Inventory{File: "fleet.toml", Nodes: cl.Nodes, Clusters: []*inventory.Cluster{cl}}
	inv.NATS.Service = "qd"

	routes, err := judgeRoutes(cl, "k1", body)
	if err != nil {
		t.Fatal(err)
	}
	var got []Warning
	add := func(level, domain, format string, a ...any) {
		got = append(got, Warning{Level: level, Domain: domain, Message: fmt.Sprintf(format, a...)})
	}
	d := &Domain{Name: "mjs", Cluster: "mesh", Routes: routes, Meta: []MetaPeer{{Name: "k1"}, {Name: "k2"}, {Name: "k3"}}}
	routeWarnings(inv, d, add)
	if len(got) != 2 {
		t.Fatalf("want two warnings (k3 twice, k4 unlisted), got %+v", got)
	}
	for i, want := range [][]string{
		{"2 servers named k3 are routed into cluster mesh (from 10.77.2.12 and 10.77.2.13, as k1's /routez says)", "which a leader change loses", "the inventory puts k3 on 10.77.2.13", "`systemctl disable --now qd`", "Moving a node to another host"},
		{"servers fleet.toml does not list in cluster mesh are routed into it", "k4 (from 10.77.1.12)", "5 minutes after a peer-remove"},
	} {
		if got[i].Level != LevelDegraded {
			t.Errorf("warning %d is %s, want degraded", i, got[i].Level)
		}
		for _, w := range want {
			if !strings.Contains(got[i].Message, w) {
				t.Errorf("warning %d lacks %q: %s", i, w, got[i].Message)
			}
		}
	}
	// k4 a meta peer again: memberWarnings' to say, not this
	got = nil
	d.Meta = append(d.Meta, MetaPeer{Name: "k4"})
	routeWarnings(inv, d, add)
	if len(got) != 1 || !strings.Contains(got[0].Message, "servers named k3") {
		t.Errorf("with k4 a meta peer: %+v", got)
	}
}
