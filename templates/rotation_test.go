package templates_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

// What nats-server allows for a password rotation, measured with its own
// config parser and an embedded server. The rotation runbook is built on
// these facts (docs/runbooks.md, rotate-passwords).

// TestNATSOneUserNameOnePassword: a user name can carry one password only.
// The parser refuses the same name twice, in one account or in two.
func TestNATSOneUserNameOnePassword(t *testing.T) {
	for name, accounts := range map[string]string{
		"same account": `A: { users: [ {user: u, password: p1}, {user: u, password: p2} ] }`,
		"two accounts": `A: { users: [ {user: u, password: p1} ] }, B: { users: [ {user: u, password: p2} ] }`,
		"companion ok": `A: { users: [ {user: u, password: p1}, {user: "u-next", password: p2} ] }`,
	} {
		path := filepath.Join(t.TempDir(), "n.conf")
		os.WriteFile(path, []byte("listen: 127.0.0.1:-1\naccounts { "+accounts+" }\n"), 0o600)
		_, err := server.ProcessConfigFile(path)
		if name == "companion ok" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), `Duplicate user "u"`) {
			t.Errorf("%s: got %v, want the parser's duplicate user refusal", name, err)
		}
	}
}

// TestNATSReloadCutsTheOldPassword: after a reload that changes a user's
// password, a client connected with the old one is disconnected (the server
// re-checks every connection) and cannot log in again with it; a companion
// user of the same account logs in with the new one throughout.
func TestNATSReloadCutsTheOldPassword(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "n.conf")
	hash := func(p string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	write := func(users string) {
		t.Helper()
		conf := "listen: 127.0.0.1:-1\naccounts { A: { users: [ " + users + " ] } }\n"
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// accept-both: u has the old password, u-next the new one.
	write(fmt.Sprintf(`{user: u, password: %q}, {user: "u-next", password: %q}`, hash("old"), hash("new")))
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoSigs, opts.NoLog = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	url := s.ClientURL()
	login := func(user, pw string) error {
		nc, err := nats.Connect(url, nats.UserInfo(user, pw), nats.NoReconnect())
		if err != nil {
			return err
		}
		nc.Close()
		return nil
	}
	if err := login("u", "old"); err != nil {
		t.Fatalf("accept-both: old password of u: %v", err)
	}
	if err := login("u-next", "new"); err != nil {
		t.Fatalf("accept-both: new password of the companion: %v", err)
	}
	if login("u", "new") == nil {
		t.Fatal("u logged in with the new password before the switch")
	}
	oldClient, err := nats.Connect(url, nats.UserInfo("u", "old"), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer oldClient.Close()
	nextClient, err := nats.Connect(url, nats.UserInfo("u-next", "new"))
	if err != nil {
		t.Fatal(err)
	}
	defer nextClient.Close()
	// switched: u now takes the new password; the companion stays.
	write(fmt.Sprintf(`{user: u, password: %q}, {user: "u-next", password: %q}`, hash("new"), hash("new")))
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for oldClient.Status() == nats.CONNECTED {
		if time.Now().After(deadline) {
			t.Fatal("the client logged in with the old password is still connected after the reload")
		}
		time.Sleep(20 * time.Millisecond) // poll interval of a loop bounded by the deadline
	}
	if login("u", "old") == nil {
		t.Error("u still logs in with the old password after the reload")
	}
	if err := login("u", "new"); err != nil {
		t.Errorf("u with the new password after the reload: %v", err)
	}
	if nextClient.Status() != nats.CONNECTED {
		t.Errorf("the companion's connection was cut by the reload: %v", nextClient.Status())
	}
}

// TestRenderRotationStages: each stage renders a config nats-server accepts,
// with the companion user beside the rotated one and the leaf remotes on the
// login the stage calls for.
func TestRenderRotationStages(t *testing.T) {
	inv, sec := loadExample(t)
	old := sec.Password("acc1")
	if err := sec.BeginRotation([]string{"acc1"}); err != nil {
		t.Fatal(err)
	}
	stages := []struct {
		stage     inventory.RotationStage
		own       string // password acc1's own name takes
		leafLogin string
	}{
		{inventory.StageAcceptBoth, "old", "acc1"},
		{inventory.StageLeavesOnNext, "old", "acc1-next"},
		{inventory.StageSwitched, "new", "acc1-next"},
		{inventory.StageLeavesBack, "new", "acc1"},
	}
	for _, st := range stages {
		if err := sec.SetRotation([]string{"acc1"}, st.stage); err != nil {
			t.Fatal(err)
		}
		_, compHash, ok := sec.Companion("acc1")
		newPW := ""
		if u, p := sec.LeafLogin("acc1"); u == "acc1-next" {
			newPW = p
		}
		if !ok {
			t.Fatalf("%s: no companion", st.stage)
		}
		for _, node := range []string{"bb_emea_1", "us_1"} {
			files, err := templates.Render(inv, sec, node)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			for _, f := range files {
				os.WriteFile(filepath.Join(dir, filepath.Base(f.Path)), hereInstead(inv, dir, f.Content), 0o600)
			}
			conf, _ := os.ReadFile(filepath.Join(dir, templates.ConfigName))
			if !strings.Contains(string(conf), `user: "acc1-next", password: "`+compHash+`"`) {
				t.Errorf("%s %s: no companion user in the config", st.stage, node)
			}
			if _, err := server.ProcessConfigFile(filepath.Join(dir, templates.ConfigName)); err != nil {
				t.Errorf("%s %s: nats-server refuses the config: %v", st.stage, node, err)
			}
			if node == "us_1" {
				remotes, _ := os.ReadFile(filepath.Join(dir, templates.LeafRemotesName))
				if !strings.Contains(string(remotes), "://"+st.leafLogin+":") {
					t.Errorf("%s: leaf remotes do not log in as %s:\n%s", st.stage, st.leafLogin, remotes)
				}
			}
		}
		wantOwn := old
		if st.own == "new" {
			wantOwn = sec.Password("acc1")
			if wantOwn == old {
				t.Errorf("%s: acc1's own name still takes the old password", st.stage)
			}
		} else if sec.Password("acc1") != old {
			t.Errorf("%s: acc1's own name takes the new password too early", st.stage)
		}
		if newPW != "" && bcrypt.CompareHashAndPassword([]byte(compHash), []byte(newPW)) != nil {
			t.Errorf("%s: companion hash does not match the leaf login's password", st.stage)
		}
	}
	sec.FinishRotation([]string{"acc1"})
	if _, _, ok := sec.Companion("acc1"); ok || sec.Password("acc1") == old {
		t.Errorf("finished rotation: companion %v, password unchanged %v", ok, sec.Password("acc1") == old)
	}
}
