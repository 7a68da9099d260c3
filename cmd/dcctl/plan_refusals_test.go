package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
)

// TestPlanJSONSaysWhatProvisionWouldRefuse: what provision would refuse
// was on plan's stderr only, and `plan --json` (an array of host plans)
// read as a plan provision would carry out. Each node a refusal concerns
// now carries it (key and reason) in its entry; the others none; stderr says
// it as before.
func TestPlanJSONSaysWhatProvisionWouldRefuse(t *testing.T) {
	var stderr bytes.Buffer
	app := &cli.App{ErrWriter: &stderr}
	c := cli.NewContext(app, nil, nil)
	var plans []*provision.HostPlan
	for _, n := range []string{"edge-a", "edge-b", "core-z"} {
		plans = append(plans, &provision.HostPlan{Node: &inventory.Node{Name: n, Host: "10.9.0.1"}, Action: provision.ActionRestart, Why: []string{"config changed"}})
	}
	store := &provision.StoreDirMoveRefusedError{Nodes: []string{"edge-a", "edge-b"}, From: "/srv/js", To: "/srv/js2"}
	rename := &provision.ClusterRenameRefusedError{Nodes: []string{"edge-b"}}
	would := planRefusals{}
	would.warn(c, refuseStoreDir, store.Nodes, store)
	would.warn(c, refuseClusterRename, rename.Nodes, rename)

	var out bytes.Buffer
	if err := writeJSON(&out, plansJSON(plans, false, would)); err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Node     string `json:"node"`
		Action   string `json:"action"`
		Refusals []struct {
			Key    string `json:"key"`
			Reason string `json:"reason"`
		} `json:"refusals"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	keys := map[string]string{}
	for _, p := range got {
		var ks []string
		for _, r := range p.Refusals {
			ks = append(ks, r.Key)
			if want := map[string]string{"store_dir": store.Error(), "cluster_rename": rename.Error()}[r.Key]; r.Reason != want {
				t.Errorf("%s: refusal %s reads %q, want %q", p.Node, r.Key, r.Reason, want)
			}
		}
		keys[p.Node] = strings.Join(ks, ",")
		if p.Action != "restart" {
			t.Errorf("%s: action %q, the plan's own fields must stay", p.Node, p.Action)
		}
	}
	if want := map[string]string{"edge-a": "store_dir", "edge-b": "store_dir,cluster_rename", "core-z": ""}; len(keys) != 3 || keys["edge-a"] != want["edge-a"] || keys["edge-b"] != want["edge-b"] || keys["core-z"] != "" {
		t.Errorf("refusals by node %v, want %v\n%s", keys, want, out.String())
	}
	if strings.Contains(strings.Split(out.String(), `"node": "core-z"`)[1], "refusals") {
		t.Errorf("a node no refusal concerns has a refusals field:\n%s", out.String())
	}
	for _, want := range []string{"warning: provision would refuse: " + store.Error() + "\n", "warning: provision would refuse: " + rename.Error() + "\n"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
