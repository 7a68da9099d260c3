package provision

import (
	"strings"
	"testing"
)

// TestRecapPrint: a row per host in name order, its error (every line of
// it) and note under CHANGES, the counts last.
func TestRecapPrint(t *testing.T) {
	r := &Recap{Seconds: 3.25, Hosts: []*HostResult{
		{Node: "alpha-node", Host: "10.1.2.3", Status: StatusChanged, Changes: []string{"update /etc/x", "restart"}, Seconds: 2.5},
		{Node: "b", Host: "h2", Status: StatusFailed, Changes: []string{}, Error: "restart: exit 1\nline two", Seconds: 12},
		{Node: "c", Host: "h3", Status: StatusOK, Changes: []string{}, Note: "stopped by an operator"},
	}}
	var b strings.Builder
	r.Print(&b)
	want := `
RECAP (3.2s)
NODE        HOST      STATUS   SECONDS  CHANGES
alpha-node  10.1.2.3  changed      2.5  update /etc/x, restart
b           h2        failed      12.0  -
                                        error: restart: exit 1
                                        line two
c           h3        ok           0.0  -
                                        note: stopped by an operator
ok=1 changed=1 failed=1 unreachable=0
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
