package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateJSONPlacesWarnings: validate --json gives each warning the
// file and line of its key, as it does each problem.
func TestValidateJSONPlacesWarnings(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	p := copyExample(t)
	if err := os.Remove(filepath.Join(filepath.Dir(p), "known_hosts")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), `sync_interval = "always"`, `sync_interval = "2m"`, 1)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(text, "\n")
	out, errOut, code := runCLI(t, "validate", "--json", p)
	var res validateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("exit %d, %v, want 0 and JSON:\n%s%s", code, err, out, errOut)
	}
	seen := map[string]bool{}
	for _, w := range res.Warnings {
		seen[w.Key] = true
		last := w.Key[strings.LastIndex(w.Key, ".")+1:]
		if w.File != p || w.Line < 1 || w.Line > len(lines) || !strings.Contains(lines[w.Line-1], last) {
			t.Errorf("warning %+v: want file %s and the line where %s is written", w, p, last)
		}
	}
	for _, key := range []string{"nats.sync_interval", "defaults.known_hosts"} {
		if !seen[key] {
			t.Errorf("no warning for %s: %+v", key, res.Warnings)
		}
	}
	// The raw JSON names the fields as a problem's are named.
	if !strings.Contains(out, `"file":`) || !strings.Contains(out, `"line":`) {
		t.Errorf("warnings' JSON lacks file and line:\n%s", out)
	}
}
