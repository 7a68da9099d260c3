package provision

import (
	"fmt"
	"os"
)

// binaryContent is nats.binary's content for the uploads, read and hashed
// once per session rather than once per host: each host's upload would
// otherwise read the file (~24 MB) and hash it again here, on a machine
// whose CPU a lab shares with its hosts. It must have the sum the plan
// saw (want): a binary replaced since the plan is refused, before any host
// is sent a byte of it.
func (s *Session) binaryContent(want string) ([]byte, error) {
	s.binMu.Lock()
	defer s.binMu.Unlock()
	if s.binSum == want && (s.bin != nil || s.binErr != nil) {
		return s.bin, s.binErr
	}
	s.bin, s.binSum, s.binErr = nil, want, nil
	b, err := os.ReadFile(s.Inv.NATS.Binary)
	switch {
	case err != nil:
		s.binErr = fmt.Errorf("read nats.binary: %w", err)
	case sha256Hex(b) != want:
		s.binErr = fmt.Errorf("nats.binary %s changed since the plan (its sha256 is now %s, the plan's %s): nothing of it was uploaded; run again to plan with the new one",
			s.Inv.NATS.Binary, sha256Hex(b), want)
	default:
		s.bin = b
	}
	return s.bin, s.binErr
}
