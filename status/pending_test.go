package status

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
)

// TestPendingConfigIsANotice: a running server whose installed config is
// not the one it runs with (provision stopped before its restart) gets a
// notice naming it, the file and the way out, and the verdict stays
// healthy; a stopped one does not (starting it applies the file).
func TestPendingConfigIsANotice(t *testing.T) {
	inv, err := inventory.Load(testcluster.WriteInventory(t, testcluster.Other()))
	if err != nil {
		t.Fatal(err)
	}
	n := inv.Nodes[0]
	conf := inv.NATS.ConfigDir + "/nats-server.conf"
	d := &Domain{Name: inv.Domain(n), Cluster: n.Cluster}
	var got []string
	add := func(level, domain, format string, a ...any) {
		if level == LevelNotice && strings.Contains(format, "older config") {
			got = append(got, level)
		}
	}
	s := &Server{Name: n.Name, DC: n.DC, Online: true, Unit: "active", UnitDetail: &provision.UnitState{Active: "active", Pending: []string{conf}}}
	serverWarnings(inv, d, s, add)
	if len(got) != 1 {
		t.Fatalf("running on an older config: %d notices", len(got))
	}
	var msgs []string
	serverWarnings(inv, d, s, func(level, domain, format string, a ...any) { msgs = append(msgs, level+" "+fmt.Sprintf(format, a...)) })
	if m := strings.Join(msgs, "\n"); !strings.Contains(m, "notice "+n.Name+" runs on an older config than the one installed ("+conf+")") || !strings.Contains(m, "dcctl provision") {
		t.Errorf("notice %q", m)
	}
	got = nil
	s.Unit, s.Online, s.UnitDetail.Active = "inactive", false, "inactive"
	serverWarnings(inv, d, s, add)
	if len(got) != 0 {
		t.Errorf("a stopped server got the notice")
	}
}
