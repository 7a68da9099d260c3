package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/nats-io/nats.go"

	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
)

// TestRotatePasswords: rotate-passwords gives the application user a new
// password while a client logged in with the old one keeps its connection
// until --finish, the leaf links stay up throughout, and after --finish only
// the new password logs in. Judged by the servers (NATS logins, a client's
// disconnect events) and the leaf nodes' own /leafz through status.
func TestRotatePasswords(t *testing.T) {
	ensureProvisioned(t)
	inv := besideLab(t, "e2e-rotate", true)
	app := mustLoad(t, inv).JetStreamAccounts()[0].Users[0]
	hub := hubNode(t)
	// Whatever happens, the lab ends with its own file's passwords.
	t.Cleanup(func() {
		if _, errOut, code := runDcctl(t, "provision", labInventory(t)); code != 0 {
			t.Errorf("putting the lab's passwords back: exit %d\n%s", code, errOut)
		}
	})
	readFile := func() (password, next, stage string) {
		var doc struct {
			Users map[string]struct {
				Password string `toml:"password"`
				Next     string `toml:"next_password"`
				Rotation string `toml:"rotation"`
			} `toml:"users"`
		}
		if _, err := toml.DecodeFile(inventory.SecretsPath(inv), &doc); err != nil {
			t.Fatal(err)
		}
		u := doc.Users[app]
		return u.Password, u.Next, u.Rotation
	}
	old, _, _ := readFile()

	var disconnects atomic.Int32
	client, err := nats.Connect(hub, nats.UserInfo(app, old), labCA(t), nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { disconnects.Add(1) }),
		// its failed reconnects after --finish are expected: keep them out of the log
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	out, errOut, code := runDcctl(t, "runbook", "rotate-passwords", "--user", app, "--yes", "-i", inv)
	if code != 0 {
		t.Fatalf("rotate-passwords: exit %d\n%s\n%s", code, out, errOut)
	}
	pw, next, stage := readFile()
	if pw != old || next == "" || next == old || stage != string(inventory.StageLeavesOnNext) {
		t.Fatalf("secrets file after the first run: old kept %v, new set %v, stage %q", pw == old, next != "" && next != old, stage)
	}
	if _, err := os.Stat(inventory.SecretsPath(inv) + ".previous"); err != nil {
		t.Errorf("the file before the rotation is not kept: %v", err)
	}
	if err := login(hub, app, old); err != nil {
		t.Errorf("the old password no longer logs in before --finish: %v", err)
	}
	if err := login(hub, app+inventory.CompanionSuffix, next); err != nil {
		t.Errorf("the companion does not log in with the new password: %v", err)
	}
	if n := disconnects.Load(); n != 0 || client.Status() != nats.CONNECTED {
		t.Errorf("the client on the old password was disconnected %d times before --finish (status %v)", n, client.Status())
	}
	if err := client.Publish("rotate.probe", []byte("x")); err != nil || client.Flush() != nil {
		t.Errorf("the client on the old password cannot publish before --finish: %v", err)
	}
	// The lab was just disturbed by the test before (restarts, publishers):
	// status may need a moment to be healthy, but must be with the
	// rotation under way (it logs in as every account's first user).
	// Every degraded look is logged, not only the last: a moment of it
	// that passes is evidence too.
	testwait.Eventually(t, 2*time.Minute, "status healthy between the two runs", func() error {
		if out, errOut, code := runDcctl(t, "status", inv); code != 0 {
			t.Logf("status between the two runs: exit %d\n%s\n%s", code, out, errOut)
			return fmt.Errorf("exit %d", code)
		}
		return nil
	})

	out, errOut, code = runDcctl(t, "runbook", "rotate-passwords", "--finish", "--yes", "-i", inv)
	if code != 0 {
		t.Fatalf("rotate-passwords --finish: exit %d\n%s\n%s", code, out, errOut)
	}
	// --finish changed the password dcctl itself logs in with (the first
	// account's first user): its post-checks log in again and prove the
	// streams of every domain not behind.
	for _, check := range []string{`ok\s+loginWithTheServersPasswords`, `ok\s+allStreamsCurrent\(`, `ok\s+streamsNotBehind\(`} {
		if !regexp.MustCompile(check).MatchString(out) {
			t.Errorf("rotate-passwords --finish did not pass %s:\n%s", check, out)
		}
	}
	pw, next, stage = readFile()
	if pw == old || next != "" || stage != "" {
		t.Fatalf("secrets file after --finish: new password in place %v, leftover next %v, stage %q", pw != old, next != "", stage)
	}
	if _, err := os.Stat(inventory.SecretsPath(inv) + ".previous"); !os.IsNotExist(err) {
		t.Errorf("the previous file is still there after --finish: %v", err)
	}
	if login(hub, app, old) == nil {
		t.Error("the old password still logs in after --finish")
	}
	if err := login(hub, app, pw); err != nil {
		t.Errorf("the new password does not log in after --finish: %v", err)
	}
	if login(hub, app+inventory.CompanionSuffix, pw) == nil {
		t.Error("the companion still logs in after --finish")
	}
	// What nats-server does to a connection whose password is gone: it is
	// closed at the reload, and the client cannot log in again with it.
	testwait.Eventually(t, 30*time.Second, "the old password's connection is cut", func() error {
		if disconnects.Load() == 0 {
			return fmt.Errorf("still connected (status %v)", client.Status())
		}
		return nil
	})
	testwait.Eventually(t, time.Minute, "status healthy after --finish", func() error {
		if out, _, code := runDcctl(t, "status", inv); code != 0 {
			return fmt.Errorf("status exit %d\n%s", code, out)
		}
		return nil
	})
	if out, _, code := runDcctl(t, "plan", inv); code != 0 || !strings.Contains(out, "0 of") {
		t.Errorf("plan after the rotation: exit %d\n%s", code, out)
	}
}
