package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestAsk(t *testing.T) {
	for in, want := range map[string]bool{"y\n": true, "YES\n": true, " yes ": true, "n\n": false, "\n": false, "": false, "yess\n": false} {
		var out bytes.Buffer
		got, _ := ask(strings.NewReader(in), &out, "kill it?")
		if got != want {
			t.Errorf("answer %q: %v, want %v", in, got, want)
		}
		if !strings.Contains(out.String(), "kill it? [y/N]") {
			t.Errorf("question not shown: %q", out.String())
		}
	}
}

func TestNoTerminal(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	// /dev/null is a character device, as a terminal is: it must not pass.
	if isTerminal(null) || isTerminal(strings.NewReader("y\n")) {
		t.Error("not a terminal, but taken for one")
	}
}
