package templates

import (
	"testing"

	"github.com/nats-io/nats-server/v2/conf"
)

// FuzzQuote: whatever string is quoted, nats-server's parser reads back
// one key holding exactly that string.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "plain", "a\nb: 1", `x" y: "z`, `back\slash`, "cr\rtab\t", "nul\x00del\x7f",
		"$VAR", "# not a comment", "} extra { ", "include \"x\"", "ünï", "\\x41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := conf.Parse("k: " + quote(s) + "\n")
		if err != nil {
			t.Fatalf("parse %s: %v", quote(s), err)
		}
		if len(m) != 1 || m["k"] != s {
			t.Fatalf("quote(%q) = %s parses as %#v", s, quote(s), m)
		}
	})
}
