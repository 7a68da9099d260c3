package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
)

// TestSecrets: passwords are never regenerated silently, and provision's
// health gate does not depend on the passwords it rolls out. Judged by the
// hosts (sha256 of the config, the unit's start time over ssh) and by the
// servers (a NATS login with each password).
func TestSecrets(t *testing.T) {
	ensureProvisioned(t)
	inv := labInventory(t)
	sec, err := inventory.LoadSecrets(mustLoad(t, inv), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	hub := hubNode(t)
	app := mustLoad(t, inv).JetStreamAccounts()[0].Users[0]
	env := inventory.EnvVar(app)

	t.Run("secrets file lost: provision refuses, nothing changes", func(t *testing.T) {
		copy := besideLab(t, "e2e-nosecrets", false)
		type hostState struct {
			conf  string
			enter uint64
		}
		state := func() map[string]hostState {
			out := map[string]hostState{}
			for _, n := range activeNodes(t) {
				_, enter := unitTimes(t, n.Name)
				out[n.Name] = hostState{hostSHA(t, n.Name, "/etc/nats/nats-server.conf"), enter}
			}
			return out
		}
		before := state()
		for _, cmd := range []string{"provision", "plan"} {
			out, errOut, code := runDcctl(t, cmd, copy)
			if code != 2 {
				t.Errorf("%s without a secrets file on a provisioned lab: exit %d, want 2\n%s\n%s", cmd, code, out, errOut)
			}
			for _, want := range []string{"already has /etc/nats/nats-server.conf", "restore the file", env, "rotate-passwords"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("%s: refusal does not say %q:\n%s", cmd, want, errOut)
				}
			}
			if _, err := os.Stat(inventory.SecretsPath(copy)); !os.IsNotExist(err) {
				t.Fatalf("%s created a secrets file", cmd)
			}
		}
		if _, errOut, code := runDcctl(t, "status", copy); code != 2 || !strings.Contains(errOut, "does not exist") {
			t.Errorf("status without a secrets file: exit %d, want 2\n%s", code, errOut)
		}
		if after := state(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("hosts changed by a refused run:\nbefore %v\nafter  %v", before, after)
		}
		if err := login(hub, app, sec.Password(app)); err != nil {
			t.Errorf("the file's password no longer logs in: %v", err)
		}
	})

	t.Run("passwords lost for good: rotate-passwords --replace-lost", func(t *testing.T) {
		copy := besideLab(t, "e2e-lost", false)
		t.Cleanup(func() {
			if _, errOut, code := runDcctl(t, "provision", inv); code != 0 {
				t.Errorf("putting the lab's passwords back: exit %d\n%s", code, errOut)
			}
		})
		out, errOut, code := runDcctl(t, "runbook", "rotate-passwords", "--replace-lost", "--yes", "-i", copy)
		if code != 0 {
			t.Fatalf("rotate-passwords --replace-lost: exit %d\n%s\n%s", code, out, errOut)
		}
		fresh, err := inventory.LoadSecrets(mustLoad(t, copy), func(string) string { return "" })
		if err != nil {
			t.Fatalf("no usable secrets file after --replace-lost: %v", err)
		}
		if fresh.Password(app) == sec.Password(app) {
			t.Fatal("the new password is the old one")
		}
		if err := login(hub, app, fresh.Password(app)); err != nil {
			t.Errorf("the new password does not log in: %v", err)
		}
		if login(hub, app, sec.Password(app)) == nil {
			t.Error("the lost password still logs in")
		}
		if out, _, code := runDcctl(t, "status", copy); code != 0 {
			t.Errorf("status after --replace-lost: exit %d\n%s", code, out)
		}
	})

	t.Run("passwords changed behind the file: provision converges back", func(t *testing.T) {
		// Someone rolled out another acc1 password (here through the
		// environment); the lab's own file still holds the old one. The
		// gate of the run that puts it back cannot log in as acc1 until the
		// rollout is done: it must not need to.
		copy := besideLab(t, "e2e-otherpw", true)
		t.Setenv(env, "e2e-another-password")
		if out, errOut, code := runDcctl(t, "provision", copy, "--gate-timeout", "90s"); code != 0 {
			t.Fatalf("provision with another %s password: exit %d\n%s\n%s", app, code, out, errOut)
		}
		if err := login(hub, app, sec.Password(app)); err == nil {
			t.Fatalf("the old password of %s still logs in: the test proves nothing", app)
		}
		os.Unsetenv(env)
		if out, errOut, code := runDcctl(t, "provision", inv, "--gate-timeout", "90s"); code != 0 {
			t.Fatalf("provision back to the file's passwords: exit %d\n%s\n%s", code, out, errOut)
		}
		if err := login(hub, app, sec.Password(app)); err != nil {
			t.Errorf("the file's password does not log in after converging back: %v", err)
		}
		testwait.Eventually(t, time.Minute, "status healthy", func() error {
			if out, _, code := runDcctl(t, "status", inv); code != 0 {
				return fmt.Errorf("status exit %d\n%s", code, out)
			}
			return nil
		})
	})
}

func mustLoad(t *testing.T, path string) *inventory.Inventory {
	t.Helper()
	inv, err := inventory.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// hubNode is the client URL of a backbone node (a cluster without leaf_of).
func hubNode(t *testing.T) string {
	t.Helper()
	inv := mustLoad(t, labInventory(t))
	for _, n := range inv.Nodes {
		if cl := inv.ClusterOf(n); cl.LeafOf == "" && !n.Standby {
			return n.ClientURL()
		}
	}
	t.Fatal("no backbone node in the lab inventory")
	return ""
}

// besideLab copies the lab inventory into the lab directory under another
// name (so that its relative paths hold), with a copy of its secrets file
// when withSecrets; both are removed at cleanup.
func besideLab(t *testing.T, name string, withSecrets bool) string {
	t.Helper()
	inv := labInventory(t)
	data, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(filepath.Dir(inv), "inventory."+name+".toml")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(p)
		os.Remove(inventory.SecretsPath(p))
		os.Remove(inventory.SecretsPath(p) + ".previous")
	})
	os.Remove(inventory.SecretsPath(p))
	copyTLS(t, p)
	if withSecrets {
		sec, err := os.ReadFile(inventory.SecretsPath(inv))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(inventory.SecretsPath(p), sec, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// login connects to url as user and returns the server's verdict.
func login(url, user, password string) error {
	nc, err := nats.Connect(url, nats.UserInfo(user, password), nats.RootCAs(pki.CAPath(labInventoryPath())),
		nats.Timeout(5*time.Second), nats.NoReconnect())
	if err != nil {
		return err
	}
	defer nc.Close()
	return nc.Flush()
}
