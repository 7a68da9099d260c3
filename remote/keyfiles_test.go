package remote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/sshtest"
)

// The dials of one run parse the key file once (an RSA key's parse costs
// milliseconds of CPU); a key file replaced between two dials is read
// again, and its new key is what the second dial offers.
func TestKeyFileParsedOncePerRun(t *testing.T) {
	e := newTestEnv(t)
	e.trust(t, e.srv)
	ageFile(t, e.keyFile)
	keys := NewKeyFiles()
	dial := func() error {
		cfg := e.config(e.srv)
		cfg.Keys = keys
		c, err := Dial(t.Context(), cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	for i := 0; i < 5; i++ {
		if err := dial(); err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
	}
	if keys.parses != 1 {
		t.Fatalf("key file parsed %d times for 5 dials, want 1", keys.parses)
	}

	// Another key in its place, which the server does not accept.
	other, _ := sshtest.ClientKey(t, t.TempDir())
	b, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.keyFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ageFile(t, e.keyFile)
	if err := dial(); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("dial with the key file replaced by a key the host refuses: %v, want an authentication failure", err)
	}
	if keys.parses != 2 {
		t.Fatalf("key file parsed %d times after it was replaced, want 2", keys.parses)
	}

	// A key file that is gone is an error, not the key cached before.
	if err := os.Remove(e.keyFile); err != nil {
		t.Fatal(err)
	}
	if err := dial(); err == nil || !strings.Contains(err.Error(), filepath.Base(e.keyFile)) {
		t.Fatalf("dial with the key file removed: %v, want an error naming it", err)
	}
}
