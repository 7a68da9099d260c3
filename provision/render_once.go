package provision

import (
	"github.com/dcctl/dcctl/templates"
)

// A run renders each node's files once. FactsScripts renders them for the
// facts script (their paths), and the Plan that follows needs the same
// files (their content): at a thousand nodes rendering twice cost as much
// CPU as the lock's scripts on dcctl's side. A rendering is kept while the
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
}

// desiredFor is desired for node in this session: the files rendered
// earlier in the run if still current, else rendered now and kept.
func (s *Session) desiredFor(bin templates.File, node string) (dirs, files []templates.File, err error) {
	version := s.Secrets.Version()
	s.mu.Lock()
	r, ok := s.rendered[node]
	s.mu.Unlock()
	if ok && r.secrets == version && r.binary == bin.SHA256 {
		return r.dirs, r.files, nil
	}
	dirs, files, err = desired(s.Inv, s.Secrets, bin, node)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rendered == nil {
		s.rendered = map[string]rendering{}
	}
	s.rendered[node] = rendering{secrets: version, binary: bin.SHA256, dirs: dirs, files: files}
	s.renders++
	return dirs, files, nil
}
