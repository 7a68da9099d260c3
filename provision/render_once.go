package provision

import (
	"github.com/dcctl/dcctl/templates"
)

// A run renders each node's files once. FactsScripts renders them for the
// facts script (their paths), and the Plan that follows needs the same
// files (their content): at a thousand nodes rendering twice cost as much
// CPU as the lock's scripts on dcctl's side. The facts script is built once
// with them: Plan checks that the facts handed over came from the script
// it would run, and a script of ~8 KB built again per node was ~1 % of a
// thousand-node no-op's CPU on dcctl's side, and its garbage. A rendering is kept while the
// secrets it read are as they were (passwords, hashes, TLS files:
// inventory.Secrets.Version) and nats.binary's sum is the same; a Plan
// after a change (AdoptRoutePassword adopts the servers' route password,
// then plans again) renders afresh.

// rendering is one node's desired directories and files, and what they
// were rendered from.
type rendering struct {
	secrets     uint64 // Secrets.Version when rendered
	binary      string // nats.binary's sha256
	dirs, files []templates.File
	facts       string // the facts script of these dirs and files
}

// desiredFor is desired for node in this session, and the facts script of
// it: the files rendered earlier in the run if still current, else rendered
// now and kept.
func (s *Session) desiredFor(bin templates.File, node string) (dirs, files []templates.File, facts string, err error) {
	version := s.Secrets.Version()
	s.mu.Lock()
	r, ok := s.rendered[node]
	s.mu.Unlock()
	if ok && r.secrets == version && r.binary == bin.SHA256 {
		return r.dirs, r.files, r.facts, nil
	}
	dirs, files, err = desired(s.Inv, s.Secrets, bin, node)
	if err != nil {
		return nil, nil, "", err
	}
	facts = s.factsScriptFor(dirs, files)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rendered == nil {
		s.rendered = map[string]rendering{}
	}
	s.rendered[node] = rendering{secrets: version, binary: bin.SHA256, dirs: dirs, files: files, facts: facts}
	s.renders++
	return dirs, files, facts, nil
}
