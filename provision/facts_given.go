package provision

import (
	"context"
	"fmt"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/remote"
	"github.com/dcctl/dcctl/templates"
)

// A run that takes the deployment lock opens a session on every host for
// the take; the facts Plan needs can ride on it (lock.Options.Also), so that
// a host that has nothing to change costs one command before the release,
// not two. The facts are then read while the lock is held, as Plan would
// read them after it: once a host's lock is this run's, no other run changes
// that host.

// givenFacts are a node's facts gathered by a caller, and the script that
// gathered them.
type givenFacts struct {
	script string
	facts  *Facts
}

// FactsScripts returns, for each node, the script that gathers what Plan
// needs from its host, for a caller that runs it in a session of its own
// (GivenFacts then hands over its output).
func (s *Session) FactsScripts(nodes []*inventory.Node) (map[string]string, error) {
	bin, err := binaryFile(s.Inv)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	s.mu.Lock()
	s.factsAsked = time.Now() // the earliest the hosts can run them
	s.mu.Unlock()
	for _, n := range nodes {
		_, _, script, err := s.desiredFor(bin, n.Name)
		if err != nil {
			return nil, err
		}
		out[n.Name] = script
	}
	return out, nil
}

// GivenFacts hands Plan the output of script, node's script from
// FactsScripts, run on its host. Plan uses them, once, if it would run
// the same script; output it cannot read is dropped (Plan then asks the
// host itself).
func (s *Session) GivenFacts(node, script string, out []byte) {
	received := time.Now()
	f, err := parseFacts(string(out))
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !f.Clock.IsZero() {
		f.ClockOffset = ClockOffset(f.Clock, s.factsAsked, received)
	}
	if s.given == nil {
		s.given = map[string]givenFacts{}
	}
	s.given[node] = givenFacts{script: script, facts: f}
}

// takeGivenFacts returns the facts handed over for node if they were
// gathered by script, and forgets them either way: they describe the host
// as it was before this run changed anything.
func (s *Session) takeGivenFacts(node, script string) *Facts {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.given[node]
	delete(s.given, node)
	if !ok || g.script != script {
		return nil
	}
	return g.facts
}

// factsScriptFor is the facts script of a node whose desired state is dirs
// and files: their paths, and their parents'.
func (s *Session) factsScriptFor(dirs, files []templates.File) string {
	s.mu.Lock()
	s.factsBuilt++
	s.mu.Unlock()
	var fp, dp []string
	for _, f := range files {
		fp = append(fp, f.Path)
	}
	for _, d := range dirs {
		dp = append(dp, d.Path)
	}
	dp = append(dp, parentDirs(dirs, files)...)
	return factsScript(s.Inv.NATS.User, s.Inv.NATS.Service, markerPath(s.Inv), sumsPath(s.Inv), stopMarkerPath(s.Inv), fp, dp)
}

// hostFacts are the facts of c's host that script gathers: those handed
// over by GivenFacts if gathered by the same script, else asked of the host
// now.
func hostFacts(ctx context.Context, s *Session, c *remote.Client, script string) (*Facts, error) {
	if f := s.takeGivenFacts(c.Name(), script); f != nil {
		return f, nil
	}
	sent := time.Now()
	out, _, err := c.Run(ctx, script)
	if err != nil {
		return nil, fmt.Errorf("gather facts: %w", err)
	}
	received := time.Now()
	f, err := parseFacts(string(out))
	if err != nil {
		return nil, fmt.Errorf("gather facts: %w", err)
	}
	if !f.Clock.IsZero() {
		f.ClockOffset = ClockOffset(f.Clock, sent, received)
	}
	return f, nil
}
