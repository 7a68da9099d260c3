package status

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/jetstream"
)

// TestMixedReleasesAreANotice: an upgrade stopped after its first swap
// (an outside audit: Ctrl-C during `dcctl runbook upgrade`, 1 of 17 servers
// on 2.15.2) left status saying only "healthy". Now a notice names the
// releases, the odd server first, and the two ways to end it; the verdict
// stays healthy, and one release gives no notice.
func TestMixedReleasesAreANotice(t *testing.T) {
	srv := func(name, v string) *Server {
		return &Server{Name: name, Online: true, NATS: &jetstream.Server{Name: name, Version: v}}
	}
	r := &Report{Domains: []*Domain{
		{Name: "js_core7", Servers: []*Server{srv("core-a1", "2.15.2"), srv("core-a2", "2.14.9"), srv("core-b1", "2.14.9")}},
		{Name: "sjc_2_edge", Servers: []*Server{srv("edge_s1", "2.14.9"), srv("edge_s2", "2.14.9"), srv("edge_s3", "2.14.9"), {Name: "edge_s4"}}},
	}}
	var got []string
	collect := func(level, domain, format string, a ...any) { got = append(got, level+" "+fmt.Sprintf(format, a...)) }
	releaseWarnings(r, collect)
	if len(got) != 1 {
		t.Fatalf("%d warnings: %q", len(got), got)
	}
	want := "notice servers run 2 nats-server releases: 2.15.2 on core-a1; 2.14.9 on 5 servers (core-a2, core-b1, edge_s1, edge_s2 and 1 more)."
	if !strings.HasPrefix(got[0], want) || !strings.Contains(got[0], "dcctl runbook upgrade --rollback") || !strings.Contains(got[0], "dcctl runbook upgrade --binary FILE") {
		t.Errorf("got  %q\nwant %q...", got[0], want)
	}
	r.Domains[0].Servers[0].NATS.Version = "2.14.9"
	got = nil
	releaseWarnings(r, collect)
	if len(got) != 0 {
		t.Errorf("one release: %q", got)
	}
}
