package provision

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// TestPlanOfAHostWhoseSudoWantsAPasswordIsFailedNotUnreachable: a host
// that answered, but whose facts command sudo refused, is a failed host
// whose error says to configure passwordless sudo; it used to be counted
// and shown as unreachable, which sends an operator to the network.
func TestPlanOfAHostWhoseSudoWantsAPasswordIsFailedNotUnreachable(t *testing.T) {
	root := hostRoot(t)
	s, node, srv := hostFixture(t, root, true)
	useOwnBinary(t, s)
	sudoDir := srv.SudoStandIn(t)
	if err := os.WriteFile(filepath.Join(sudoDir, "deny"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	plans, err := Plan(t.Context(), s, []*inventory.Node{node})
	if err != nil {
		t.Fatal(err)
	}
	p := plans[0]
	if p.Unreachable != nil || p.Err == nil || !strings.Contains(p.Err.Error(), "NOPASSWD") {
		t.Fatalf("plan: unreachable %v, error %v; want a failed host whose error says NOPASSWD", p.Unreachable, p.Err)
	}
	var out strings.Builder
	PrintPlans(&out, plans, false)
	if strings.Contains(out.String(), "UNREACHABLE") {
		t.Errorf("plan shows the host as unreachable:\n%s", out.String())
	}
	if r := newRecap(plans); r.Count(StatusUnreachable) != 0 || r.Count(StatusFailed) != 1 {
		t.Errorf("recap: %d unreachable, %d failed; want 0 and 1", r.Count(StatusUnreachable), r.Count(StatusFailed))
	}
}

// useOwnBinary makes the test's own executable the nats.binary to push:
// Plan reads the binary's architecture, and this one is an ELF for this
// machine.
func useOwnBinary(t *testing.T, s *Session) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s.Inv.NATS.Binary = exe
}
