package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Before the first provision there are no passwords and no certificates:
// render refuses (exit 2, nothing written) and says how to read the files
// anyway.
func TestRenderBeforeFirstProvisionSaysHow(t *testing.T) {
	for _, missing := range []string{"inventory.tls", "inventory.secrets.toml"} {
		p := copyExample(t)
		if err := os.RemoveAll(filepath.Join(filepath.Dir(p), missing)); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "out")
		_, errOut, code := runCLI(t, "render", p, "--out", out)
		if code != 2 || !strings.Contains(errOut, "dcctl render --placeholder-passwords") {
			t.Errorf("without %s: exit %d, want 2 naming --placeholder-passwords\n%s", missing, code, errOut)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("without %s: a refused render wrote %s", missing, out)
		}
		if _, errOut, code := runCLI(t, "render", p, "--out", out, "--placeholder-passwords"); code != 0 {
			t.Errorf("without %s, --placeholder-passwords: exit %d\n%s", missing, code, errOut)
		}
	}
}
