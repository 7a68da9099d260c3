package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
)

// TestContextExportNamesADomain: every exported application context names
// a JetStream domain, and through each server of its URL list the JetStream
// API answers for that domain (the server natscli picks no longer decides):
// the domain of its servers when they are in one, the hub's when they span
// a hub and its leaf cluster. The system user's context names one only
// when its servers are in one domain (natscli filters server reports by it).
func TestContextExportNamesADomain(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "SHOP", AppUser: "shop-app", SysAccount: "OPS", SysUser: "ops",
		Clusters: []testcluster.ClusterSpec{
			{Name: "CORE", Domain: "central", Nodes: []testcluster.NodeSpec{{Name: "core-1", DC: "fra"}, {Name: "core-2", DC: "fra"}, {Name: "core-3", DC: "nyc"}}},
			{Name: "EDGE", Domain: "edge-lon", LeafOf: "CORE", Nodes: []testcluster.NodeSpec{{Name: "edge-1", DC: "lon"}, {Name: "edge-2", DC: "lon"}}},
		}}
	inv := testcluster.WriteInventory(t, spec)
	c := testcluster.Start(t, inv)
	dir := filepath.Join(t.TempDir(), "ctx")
	out, errOut, code := runCLI(t, "context", "export", inv, "--dir", dir, "--prefix", "shop", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res []exportedContext
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"shop": "central", "shop@fra": "central", "shop@nyc": "central", "shop@lon": "edge-lon",
		"shop:admin": "", "shop:admin@fra": "central", "shop:admin@nyc": "central", "shop:admin@lon": "edge-lon",
	}
	if len(res) != len(want) {
		t.Fatalf("%d contexts, want %d: %s", len(res), len(want), out)
	}
	user, pass := c.AppUser()
	for _, e := range res {
		var file struct {
			URL    string `json:"url"`
			Domain string `json:"jetstream_domain"`
		}
		data, err := os.ReadFile(e.Path)
		if err == nil {
			err = json.Unmarshal(data, &file)
		}
		if err != nil {
			t.Fatal(err)
		}
		if file.Domain != want[e.Name] || e.Domain != want[e.Name] {
			t.Errorf("context %s: JetStream domain %q (--json %q), want %q", e.Name, file.Domain, e.Domain, want[e.Name])
			continue
		}
		if e.Account != "SHOP" {
			continue
		}
		// Each server of the list, as natscli would use the context: the
		// answer comes from the context's domain. A leaf server learns the
		// hub's API interest over its leafnode link a moment after start.
		for _, u := range strings.Split(file.URL, ",") {
			nc, err := nats.Connect(u, append([]nats.Option{nats.UserInfo(user, pass), nats.Timeout(15 * time.Second)}, c.ClientOptions()...)...)
			if err != nil {
				t.Fatalf("connect to %s: %v", u, err)
			}
			js, err := njs.NewWithDomain(nc, file.Domain)
			if err != nil {
				t.Fatal(err)
			}
			testwait.Eventually(t, testwait.Converge, fmt.Sprintf("context %s through %s", e.Name, u), func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				ai, err := js.AccountInfo(ctx)
				if err != nil {
					return err
				}
				if ai.Domain != file.Domain {
					return fmt.Errorf("answered by domain %q, want %q", ai.Domain, file.Domain)
				}
				return nil
			})
			nc.Close()
		}
	}
	if !strings.Contains(out, `"jetstream_domain": "central"`) {
		t.Errorf("--json does not give the domain:\n%s", out)
	}
	// The text output names it too.
	txt, _, _ := runCLI(t, "context", "export", inv, "--dir", dir, "--prefix", "shop")
	if !strings.Contains(txt, "context shop (user shop-app, account SHOP, JetStream domain central)") {
		t.Errorf("output does not name the domain:\n%s", txt)
	}
}
