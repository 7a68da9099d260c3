package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/jetstream"
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

// TestNodeConfirmationNamesTheUnit: the question names the inventory's
// service, not nats-server's default unit name.
func TestNodeConfirmationNamesTheUnit(t *testing.T) {
	p := copyExample(t)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), `service = "nats-server"`, `service = "corp-mq"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for action, want := range map[string]string{"stop": "stop corp-mq.service on us_1", "kill": "kill corp-mq.service on us_1"} {
		_, errOut, code := runCLI(t, "node", action, "us_1", "-i", p)
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("node %s: exit %d, stderr %q; want exit 2 with %q", action, code, errOut, want)
		}
	}
}

// TestLossRiskSettles: a stream follower one message behind for an instant
// (a stream taking writes) is no risk worth a warning; a risk that stays is
// reported. One sample warned "cannot be taken down safely" on the lab's
// healthy cluster at `dcctl node stop`.
func TestLossRiskSettles(t *testing.T) {
	lag := &jetstream.UnsafeError{Server: "n1", Reasons: []string{"stream S has other replicas not current (n2 not current (lag 1))"}}
	calls := 0
	transient := func() error {
		calls++
		if calls < 3 {
			return lag
		}
		return nil
	}
	if got := settledRisk(context.Background(), time.Minute, time.Millisecond, transient); got != "" {
		t.Errorf("a lag gone at the third look was reported: %q", got)
	}
	lasting := func() error { return lag }
	if got := settledRisk(context.Background(), 20*time.Millisecond, time.Millisecond, lasting); !strings.Contains(got, "lag 1") {
		t.Errorf("a lasting risk: got %q", got)
	}
	unknown := func() error { return errors.New("no responders") }
	if got := settledRisk(context.Background(), time.Minute, time.Millisecond, unknown); got != "" {
		t.Errorf("a risk that cannot be found out: got %q", got)
	}
}
