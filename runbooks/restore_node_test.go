package runbooks

import (
	"strings"
	"testing"
)

// TestRestoreNodeSettles: the node's domain is settled first, so the
// last-sequence baseline names it; an unknown node refuses as the target.
func TestRestoreNodeSettles(t *testing.T) {
	names, err := settledChecks(t, &RestoreNode{Node: "us_2"})
	if err != nil {
		t.Fatal(err)
	}
	wantChecks(t, names, "nodeStateKnown(us_2)", "lastSequences(us)", "filesMatchInventory(us_2)")
	wantChecks(t, settledPostChecks(t, &RestoreNode{Node: "us_2"}), "nodeWhole(us_2)", "streamsNotBehind(us)")
	if _, err := settledChecks(t, &RestoreNode{Node: "us_9"}); err == nil || !strings.Contains(err.Error(), `no node "us_9"`) {
		t.Errorf("unknown node: %v", err)
	}
}
