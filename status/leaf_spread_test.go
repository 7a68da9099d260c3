package status_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/status"
)

// TestLeafLinkSpread: leafnode links do not come back to a hub server that
// restarted (nats-server never moves a link once made). Status shows how
// many links each hub server accepted, in --json and as a column of the
// servers table, and says the spread is uneven as information: the report
// stays healthy, no warning.
func TestLeafLinkSpread(t *testing.T) {
	spec := testcluster.Other()
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	s := session(t, c)
	hub := spec.Clusters[0]
	links := func(r *status.Report) (n int) {
		for _, d := range r.Domains {
			for _, l := range d.Leafnodes {
				if l.Hub != "" {
					n++
				}
			}
		}
		return n
	}
	r := waitReport(t, s, settle, healthy)
	total := links(r)
	if total == 0 {
		t.Fatal("no leafnode links in the deployment")
	}
	// Restart two hub servers one after the other, as a rolling change
	// does: their links move to the others and stay there.
	restarted := []string{hub.Nodes[3].Name, hub.Nodes[4].Name}
	for _, name := range restarted {
		c.Stop(name)
		waitReport(t, s, settle, func(r *status.Report) error {
			if d := domain(r, hub.Domain); d.LeafLinksAccepted[name] != 0 {
				return fmt.Errorf("%s still holds %d links", name, d.LeafLinksAccepted[name])
			}
			if n := links(r); n != total {
				return fmt.Errorf("%d of %d leafnode links up", n, total)
			}
			return nil
		})
		c.Start(name)
	}
	r = waitReport(t, s, settle, func(r *status.Report) error {
		if err := healthy(r); err != nil {
			return err
		}
		d := domain(r, hub.Domain)
		sum := 0
		for _, n := range d.LeafLinksAccepted {
			sum += n
		}
		if len(d.LeafLinksAccepted) != len(hub.Nodes) || sum != total {
			return fmt.Errorf("accepted links %v, want every hub server counted and %d in all", d.LeafLinksAccepted, total)
		}
		return nil
	})
	// The last one restarted holds none: its links moved away and stayed
	// (the earlier one may have taken them).
	d := domain(r, hub.Domain)
	last := restarted[len(restarted)-1]
	if d.LeafLinksAccepted[last] != 0 {
		t.Errorf("%s accepted %d links after its restart, want 0 (links do not come back)", last, d.LeafLinksAccepted[last])
	}
	for _, w := range r.Warnings {
		if strings.Contains(w.Message, "leafnode links accepted") || strings.Contains(w.Message, "uneven") {
			t.Errorf("the spread is a warning: %s", w.Message)
		}
	}
	var b bytes.Buffer
	r.Write(&b)
	if !strings.Contains(b.String(), "Leaf links") || !strings.Contains(b.String(), "Leafnode links accepted per server are uneven") || !(strings.Contains(b.String(), last+" 0,") || strings.Contains(b.String(), last+" 0)")) {
		t.Errorf("text does not show the spread:\n%s", b.String())
	}
	for _, other := range spec.Clusters[1:] {
		if dd := domain(r, other.Domain); dd.LeafLinksAccepted != nil {
			t.Errorf("leaf domain %s has accepted links %v: only hub servers accept them", other.Domain, dd.LeafLinksAccepted)
		}
	}
}
