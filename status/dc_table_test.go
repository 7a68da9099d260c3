package status

import (
	"strings"
	"testing"
)

// TestDCTableMonitoringCell: the DC table's Monitoring cell reads as English
// with both counts: how many of the DC's NATS-silent servers answered on
// their monitoring ports, of how many.
func TestDCTableMonitoringCell(t *testing.T) {
	server := func(name, dc string, online bool, mon string) *Server {
		return &Server{Name: name, DC: dc, Online: online, Monitoring: mon}
	}
	r := &Report{Domains: []*Domain{{Name: "core", Servers: []*Server{
		server("a-1", "alpha", true, "answered"),
		server("b-1", "beta", false, "answered"), server("b-2", "beta", false, "answered"),
		server("c-1", "gamma", false, "answered"), server("c-2", "gamma", false, "silent"), server("c-3", "gamma", true, "answered"),
		server("d-1", "delta", false, "silent"),
		server("z-1", "zeta", false, "silent"), server("z-2", "zeta", false, "silent"),
		server("e-1", "eps", false, ""), // monitoring not asked
	}}}}
	r.DCs = dcSummary(r, false)
	var b strings.Builder
	r.dcTable().write(&b)
	want := map[string]string{"beta": "2 of 2 silent servers answer", "gamma": "1 of 2 silent servers answers", "delta": "the silent server does not answer", "zeta": "none of 2 silent servers answers"}
	for _, line := range strings.Split(b.String(), "\n") {
		for dc, cell := range want {
			if strings.Contains(line, " "+dc+" ") && !strings.Contains(line, cell) {
				t.Errorf("DC %s: %s\nwant the Monitoring cell %q", dc, line, cell)
			}
		}
		if (strings.Contains(line, " alpha ") || strings.Contains(line, " eps ")) && strings.Contains(line, "silent") {
			t.Errorf("a DC without silent servers asked on their monitoring ports: %s", line)
		}
	}
	if strings.Contains(b.String(), "of the silent") {
		t.Errorf("the old wording:\n%s", b.String())
	}
}
