package runbooks

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/dcctl/dcctl/internal/testcluster"
)

// TestRestoreNodeRefusesARunningNodeWithoutALeader: the two other nodes of
// a leaf cluster are gone (down, or cut off by a partition), the third runs.
// restore-node of the running one is refused, and says that its domain has
// no meta leader, not `(meta leader "")` as it did on the lab during a cut
// between DCs.
func TestRestoreNodeRefusesARunningNodeWithoutALeader(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "PAY", AppUser: "payer", SysAccount: "ADMINISTRATION", SysUser: "sys-keeper",
		Clusters: []testcluster.ClusterSpec{{Name: "Ol_Edge", Domain: "ol_edge", Nodes: []testcluster.NodeSpec{
			{Name: "o-1", DC: "ord-9"}, {Name: "o-2", DC: "ord-9"}, {Name: "o-3", DC: "ord-9"}}}}}
	l := newLab(t, spec)
	l.c.Stop("o-2")
	l.c.Stop("o-3")
	// until o-1 itself has noticed: in the first seconds it still names
	// a leader (itself, or the one it heard last)
	deadline := time.Now().Add(time.Minute)
	for {
		jsz, err := l.c.Server("o-1").Jsz(&server.JSzOptions{})
		if err == nil && jsz.Meta != nil && jsz.Meta.Leader == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("o-1 still names a meta leader a minute after its two peers stopped: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	err := l.run(&RestoreNode{Node: "o-1"})
	wantRefused(t, err, `domain "ol_edge" has no meta leader that answers from here`)
	if strings.Contains(err.Error(), `""`) {
		t.Errorf("the refusal names an empty leader: %v", err)
	}
}
