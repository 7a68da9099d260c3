package provision

import (
	"bytes"
	"testing"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

// TestARunRendersEachNodeOnce: the facts script (FactsScripts) and the Plan
// after it share one rendering of a node's files; once the secrets change
// (here the route password adopted from the servers, as AdoptRoutePassword
// does), Plan renders again and plans the new content.
func TestARunRendersEachNodeOnce(t *testing.T) {
	root := hostRoot(t)
	s, n, _ := hostFixture(t, root, false)
	useOwnBinary(t, s)
	ctx := t.Context()
	nodes := []*inventory.Node{n}
	c, err := s.Client(ctx, n.Name)
	if err != nil {
		t.Fatal(err)
	}
	scripts, err := s.FactsScripts(nodes)
	if err != nil {
		t.Fatal(err)
	}
	// The facts as the take hands them over, from a host with systemd
	// (this machine may have none).
	give := func() {
		t.Helper()
		out, _, err := c.Run(ctx, scripts[n.Name])
		if err != nil {
			t.Fatal(err)
		}
		s.GivenFacts(n.Name, scripts[n.Name], bytes.Replace(out, []byte("systemd no\n"), []byte("systemd yes\n"), 1))
	}
	give()
	first, err := Plan(ctx, s, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if s.renders != 1 {
		t.Fatalf("FactsScripts and Plan rendered %d times, want once", s.renders)
	}
	if s.factsBuilt != 1 {
		t.Fatalf("FactsScripts and Plan built the facts script %d times, want once (Plan compares the script the facts came from with the one FactsScripts gave out)", s.factsBuilt)
	}
	if first[0].Err != nil || len(first[0].Files) == 0 {
		t.Fatalf("plan of a host with nothing on it: %+v", first[0])
	}

	if err := s.Secrets.AdoptRoute("the-servers-route-password", ""); err != nil {
		t.Fatal(err)
	}
	give()
	again, err := Plan(ctx, s, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if s.renders != 2 {
		t.Fatalf("Plan after a change of the secrets rendered %d times in all, want 2", s.renders)
	}
	if again[0].Facts == nil || again[0].Facts.Systemd != true {
		t.Fatalf("Plan after a change of the secrets did not use the facts handed over (same paths, same script): %+v", again[0].Facts)
	}
	cfg := templates.PathsFor(s.Inv).Config
	if sum(first[0].Desired, cfg) == sum(again[0].Desired, cfg) {
		t.Errorf("the config planned after the route password changed is the one planned before it")
	}
}

func sum(files []templates.File, path string) string {
	for _, f := range files {
		if f.Path == path {
			return f.SHA256
		}
	}
	return ""
}
