package inventory_test

import (
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// TestWarningServiceUserRoot: [nats] user = "root" is valid but
// warned about, keyed nats.user; the default user and any other are not.
func TestWarningServiceUserRoot(t *testing.T) {
	for user, warned := range map[string]bool{"root": true, "": false, "natsd": false, "root2": false} {
		text := base
		if user != "" {
			text = strings.Replace(base, "[nats]\n", "[nats]\nuser = \""+user+"\"\n", 1)
		}
		inv, err := inventory.Load(writeInv(t, text))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, w := range inv.Warnings() {
			if w.Key == "nats.user" {
				got = append(got, w.Msg)
			}
		}
		switch {
		case warned && (len(got) != 1 || !strings.Contains(got[0], "runs nats-server as root")):
			t.Errorf("user %q: want a warning that nats-server runs as root, got %q", user, got)
		case !warned && len(got) > 0:
			t.Errorf("user %q: unexpected warning %q", user, got)
		}
	}
}
