package main

import (
	"strings"
	"testing"
)

func TestNodeRefusesBadInput(t *testing.T) {
	p := copyExample(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"node", "kill", "nope", "-i", p}, "node nope is not in inventory"},
		{[]string{"node", "frob", "us_1", "-i", p}, `unknown action "frob"`},
		{[]string{"node", "start", "-i", p}, "want ACTION NODE"},
		// No terminal on stdin and no --yes: refused before any connection.
		{[]string{"node", "kill", "us_1", p}, "pass --yes"},
		{[]string{"node", "stop", "us_1", "-i", p}, "pass --yes"},
	} {
		_, errOut, code := runCLI(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with %q", tc.args, code, errOut, tc.want)
		}
	}
}
