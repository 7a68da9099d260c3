package status

import (
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
)

// TestClockNotice: a host whose clock is off by more than a few seconds is
// named in one notice, with by how much; the report stays healthy on it.
func TestClockNotice(t *testing.T) {
	inv, err := inventory.Load(testcluster.WriteInventory(t, testcluster.Other()))
	if err != nil {
		t.Fatal(err)
	}
	off := func(s float64) *float64 { return &s }
	a, b, c := inv.Nodes[0], inv.Nodes[1], inv.Nodes[2]
	r := &Report{Domains: []*Domain{{Name: inv.Domain(a), Cluster: a.Cluster, Servers: []*Server{
		{Name: a.Name, Host: a.Host, DC: a.DC, Online: true, ClockOffsetS: off(-190.4)},
		{Name: b.Name, Host: b.Host, DC: b.DC, Online: true, ClockOffsetS: off(1.2)},
		{Name: c.Name, Host: c.Host, DC: c.DC, Online: true},
	}}}}
	var clock []Warning
	for _, w := range warnings(inv, r) {
		if strings.Contains(w.Message, "clock") {
			clock = append(clock, w)
		}
	}
	if len(clock) != 1 || clock[0].Level != LevelNotice {
		t.Fatalf("clock warnings %+v, want one notice", clock)
	}
	m := clock[0].Message
	if !strings.Contains(m, a.Name+" ("+a.Host+") 3 min 10 s behind this machine's") || strings.Contains(m, b.Name+" ") || strings.Contains(m, c.Name+" ") {
		t.Errorf("notice %q: want %s 3 min 10 s behind, and neither %s (1 s) nor %s (not read)", m, a.Name, b.Name, c.Name)
	}
}
