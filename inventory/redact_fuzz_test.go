package inventory

import (
	"regexp"
	"strings"
	"testing"
)

var alnumPassword = regexp.MustCompile(`^[A-Za-z0-9]{12,}$`)

// FuzzRedact: Secrets.Redact is what stands between a password and the
// operator's terminal for text dcctl does not control (nats-server -t
// output, a host's stderr, a journal line). Whatever the text, no password
// of the shape dcctl generates survives it, even two passwords where one
// overlaps the other.
func FuzzRedact(f *testing.F) {
	f.Add("nats-server: /etc/nats/leafnode-remotes.conf:3:5: nats-leaf://acc1:Abcdefghijkl0123@h", "Abcdefghijkl0123", "defghijkl0123XYZ")
	f.Add("AAAAAAAAAAAAAAAA", "AAAAAAAAAAAA", "AAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, text, p1, p2 string) {
		if !alnumPassword.MatchString(p1) || !alnumPassword.MatchString(p2) {
			return
		}
		s := &Secrets{users: map[string]secretUser{"acc1": {password: p1}, "admin": {password: p2}}}
		out := s.Redact(text + p1 + text + p2 + p1 + p2 + text)
		if strings.Contains(out, p1) || strings.Contains(out, p2) {
			t.Fatalf("a password survived Redact: %q", out)
		}
	})
}
