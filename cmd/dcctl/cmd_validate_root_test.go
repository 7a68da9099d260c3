package main

import (
	"os"
	"strings"
	"testing"
)

// TestValidateWarnsServiceUserRoot: validate accepts [nats] user = "root"
// (exit 0) and says, under nats.user, that nats-server would run as root.
func TestValidateWarnsServiceUserRoot(t *testing.T) {
	p := copyExample(t)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "user = \"nats\"\n", "user = \"root\"\n", 1)
	if text == string(data) {
		t.Fatal("the example does not set [nats] user = \"nats\"")
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "validate", p)
	if code != 0 || !strings.Contains(out+errOut, "nats.user: \"root\" runs nats-server as root") {
		t.Errorf("exit %d, want 0 with a warning under nats.user:\n%s%s", code, out, errOut)
	}
}

// TestValidateCountsProblemsInWords: an inventory with one mistake is
// refused as "1 problem", not "1 problem(s)".
func TestValidateCountsProblemsInWords(t *testing.T) {
	p := copyExample(t)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "sync_interval = \"always\"\n", "sync_interval = \"sometimes\"\n", 1)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLI(t, "validate", p)
	if code != 2 || !strings.Contains(errOut, ": 1 problem\n") {
		t.Errorf("exit %d, want 2 and \": 1 problem\":\n%s", code, errOut)
	}
}
