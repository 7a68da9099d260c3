package status_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
	"github.com/dcctl/dcctl/status"
)

// TestMetaPeersBeyondTheInventory: a meta group whose every peer is online
// and current is not healthy when the inventory does not list one of them,
// or lists one as a standby beyond the cluster's active nodes (a node
// replace-peer --permanent removed, started again beside its replacement):
// the servers count it in the quorum. Status names it and says what to do.
// The servers are real; only the inventory status reads is edited.
func TestMetaPeersBeyondTheInventory(t *testing.T) {
	spec := testcluster.Other()
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	hub := spec.Clusters[0]
	waitReport(t, session(t, c), settle, healthy)
	extra := hub.Nodes[len(hub.Nodes)-1].Name

	edited := func(t *testing.T, edit func(inv *inventory.Inventory)) *provision.Session {
		inv, err := inventory.Load(c.Inv.File)
		if err != nil {
			t.Fatal(err)
		}
		edit(inv)
		s := provision.NewSession(inv, c.Secrets, provision.SessionOptions{Direct: true, NATSTimeout: testNATSTimeout})
		t.Cleanup(func() { s.Close() })
		return s
	}
	warned := func(r *status.Report, want ...string) error {
		for _, w := range r.Warnings {
			if w.Level != status.LevelDegraded || w.Domain != hub.Domain {
				continue
			}
			if !slices.ContainsFunc(want, func(s string) bool { return !strings.Contains(w.Message, s) }) {
				if r.Healthy {
					return fmt.Errorf("warned %q but healthy", w.Message)
				}
				return nil
			}
		}
		return fmt.Errorf("no degraded warning with %q", want)
	}

	t.Run("a peer the inventory does not list", func(t *testing.T) {
		s := edited(t, func(inv *inventory.Inventory) {
			inv.Nodes = slices.DeleteFunc(inv.Nodes, func(n *inventory.Node) bool { return n.Name == extra })
			cl := inv.Cluster(hub.Name)
			cl.Nodes = slices.DeleteFunc(cl.Nodes, func(n *inventory.Node) bool { return n.Name == extra })
		})
		waitReport(t, s, settle, func(r *status.Report) error {
			return warned(r, "does not list", extra, "peer-remove", "with --prefix P, P:admin", "add them to the inventory")
		})
		// A hub server's /routez names it too (one name, one server id);
		// as a meta peer it is memberWarnings' to say.
		waitReport(t, s, settle, func(r *status.Report) error {
			for _, d := range r.Domains {
				if d.Cluster != hub.Name {
					continue
				}
				if d.Routes == nil || d.Routes.From == "" || len(d.Routes.Twice) > 0 ||
					len(d.Routes.Unlisted) != 1 || d.Routes.Unlisted[0].Name != extra {
					return fmt.Errorf("routes of %s: %+v", hub.Name, d.Routes)
				}
				for _, w := range r.Warnings {
					if strings.Contains(w.Message, "/routez") {
						return fmt.Errorf("a meta peer warned of by its routes: %s", w.Message)
					}
				}
				return nil
			}
			return fmt.Errorf("no domain of cluster %s", hub.Name)
		})
		// It still runs: dropping it from the inventory stopped nothing,
		// and the way out is to stop it before the peer-remove.
		waitReport(t, s, settle, func(r *status.Report) error {
			return warned(r, extra+" is still running", "taking [nodes.NAME] out of the inventory stops nothing", "`dcctl node stop NAME` and `dcctl runbook replace-peer NAME --permanent`")
		})
	})

	t.Run("one peer more than the active nodes", func(t *testing.T) {
		s := edited(t, func(inv *inventory.Inventory) { inv.Node(extra).Standby = true })
		waitReport(t, s, settle, func(r *status.Report) error {
			return warned(r, fmt.Sprintf("%d peers of cluster %s, 1 more than its %d active nodes", len(hub.Nodes), hub.Name, len(hub.Nodes)-1),
				"standby in the inventory but a peer: "+extra, "--replacement "+extra, "if the run stopped halfway, run it again", "replace-peer NODE --permanent", "remove [nodes.NODE]")
		})
	})

	// replace-peer OLD --replacement NEW without --permanent, before the
	// inventory edit: NEW (standby) is a peer beside offline OLD. One
	// warning says so and what comes next, not "started again, stop it"
	// beside the offline node's.
	t.Run("a replacement under way", func(t *testing.T) {
		old := hub.Nodes[0].Name
		c.Stop(old)
		t.Cleanup(func() { c.Start(old) })
		s := edited(t, func(inv *inventory.Inventory) { inv.Node(extra).Standby = true })
		r := waitReport(t, s, settle, func(r *status.Report) error {
			return warned(r, "replacement under way", "standby node "+extra+" runs as a meta peer beside offline "+old,
				"set standby = false on "+extra, "replace-peer "+old+" --permanent", "restore-node "+old)
		})
		for _, w := range r.Warnings {
			if strings.Contains(w.Message, "started again") {
				t.Errorf("a hint beside the replacement's: %s", w.Message)
			}
		}
	})
}
