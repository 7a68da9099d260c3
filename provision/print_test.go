package provision

import (
	"errors"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// The plan's last line counts hosts in words, never "host(s)".
func TestPrintPlansCountsHostsInWords(t *testing.T) {
	node := func(name string) *inventory.Node { return &inventory.Node{Name: name, Host: name + ".example"} }
	unchanged := func(name string) *HostPlan { return &HostPlan{Node: node(name)} }
	reload := &HostPlan{Node: node("w2"), Action: ActionReload, Why: []string{"config changed"}}
	for _, c := range []struct {
		plans []*HostPlan
		want  string
	}{
		{[]*HostPlan{unchanged("w1")}, "0 of 1 host to change\n"},
		{[]*HostPlan{reload}, "1 of 1 host to change\n"},
		{[]*HostPlan{unchanged("w1"), reload, unchanged("w3")}, "1 of 3 hosts to change\n"},
		{nil, "no hosts to change\n"},
		// A host that could not be asked is no host without changes (an
		// outside audit: "0 of 17 hosts to change" with a host key changed).
		{[]*HostPlan{unchanged("w1"), {Node: node("w2"), Unreachable: errors.New("HOST KEY CHANGED")}}, "0 of 2 hosts to change; 1 host could not be planned (see above): w2\n"},
	} {
		var out strings.Builder
		PrintPlans(&out, c.plans, false)
		if !strings.HasSuffix(out.String(), c.want) {
			t.Errorf("plan of %d hosts ends\n%s\nwant it to end %q", len(c.plans), out.String(), c.want)
		}
		if strings.Contains(out.String(), "(s)") {
			t.Errorf("plan says \"(s)\":\n%s", out.String())
		}
	}
}
