package provision

import (
	"reflect"
	"testing"
	"time"

	"github.com/dcctl/dcctl/inventory"
)

// TestGivenFactsSaveTheFactsCommand: facts gathered by FactsScripts'
// script in a session of the caller's (the lock's take) are what Plan
// uses, without asking the host again; once only, and only when gathered by
// the script Plan would run.
func TestGivenFactsSaveTheFactsCommand(t *testing.T) {
	root := hostRoot(t)
	s, n, srv := hostFixture(t, root, false)
	useOwnBinary(t, s)
	ctx := t.Context()
	nodes := []*inventory.Node{n}
	c, err := s.Client(ctx, n.Name)
	if err != nil {
		t.Fatal(err)
	}
	// What Plan finds by itself.
	before := srv.Execs()
	want, err := Plan(ctx, s, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Execs() - before; got != 1 {
		t.Fatalf("Plan ran %d commands, want 1 (the facts)", got)
	}

	scripts, err := s.FactsScripts(nodes)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := c.Run(ctx, scripts[n.Name])
	if err != nil {
		t.Fatal(err)
	}
	s.GivenFacts(n.Name, scripts[n.Name], out)
	before = srv.Execs()
	got, err := Plan(ctx, s, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Execs() - before; n != 0 {
		t.Errorf("Plan with given facts ran %d commands, want none", n)
	}
	// The host's clock, read by both, is the one fact that moves.
	gf, wf := *got[0].Facts, *want[0].Facts
	if gf.Clock.IsZero() || wf.Clock.IsZero() {
		t.Errorf("host clock not read: given %v, Plan's own %v", gf.Clock, wf.Clock)
	}
	gf.Clock, gf.ClockOffset, wf.Clock, wf.ClockOffset = time.Time{}, 0, time.Time{}, 0
	if !reflect.DeepEqual(gf, wf) || got[0].Changed() != want[0].Changed() || len(got[0].Files) != len(want[0].Files) {
		t.Errorf("plan with given facts %+v\nwant %+v", got[0], want[0])
	}

	// Used once: the next Plan asks the host.
	before = srv.Execs()
	if _, err := Plan(ctx, s, nodes); err != nil {
		t.Fatal(err)
	}
	if n := srv.Execs() - before; n != 1 {
		t.Errorf("a second Plan ran %d commands, want 1 (the facts)", n)
	}
	// Facts of another script (other paths) are not taken for this one's.
	s.GivenFacts(n.Name, scripts[n.Name]+"# another\n", out)
	before = srv.Execs()
	if _, err := Plan(ctx, s, nodes); err != nil {
		t.Fatal(err)
	}
	if n := srv.Execs() - before; n != 1 {
		t.Errorf("Plan with facts of another script ran %d commands, want 1 (the facts)", n)
	}
}
