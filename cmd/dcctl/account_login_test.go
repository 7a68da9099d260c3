package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
)

// TestOneAccountsPasswordWrong: the password dcctl has for one account's
// user is wrong. A backup of another account's stream (--account) works; a
// run that must look in every account fails naming the refused account
// and what it blocks and where its password comes from; status shows the
// other account's streams and one warning for the refused one (exit 1, and
// refused_accounts in --json); no password is printed.
func TestOneAccountsPasswordWrong(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "SHOP", AppUser: "shop-app", SysAccount: "OPS", SysUser: "ops",
		MoreAccounts: []testcluster.AccountSpec{{Name: "LEDGER", User: "ledger-app"}},
		Clusters: []testcluster.ClusterSpec{{Name: "CORE", Domain: "core", Nodes: []testcluster.NodeSpec{
			{Name: "c-1", DC: "x"}, {Name: "c-2", DC: "x"}, {Name: "c-3", DC: "x"}}}}}
	inv := testcluster.WriteInventory(t, spec)
	c := testcluster.Start(t, inv)
	js := c.JetStreamAs(t, "core", "SHOP")
	testcluster.CreateStream(t, js, njs.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Replicas: 1, Storage: njs.FileStorage}, time.Minute)
	testcluster.Publish(t, js, "orders", 3)
	const wrong = "wrong-ledger-password"
	t.Setenv(inventory.EnvVar("ledger-app"), wrong)
	_, shopPw := c.AccountUser("SHOP")
	common := []string{"-i", inv, "--direct", "--ssh-timeout", "2s", "--timeout", "60s", "--without-lock"}
	cli := func(args ...string) (string, string, int) {
		t.Helper()
		out, errOut, code := runCLI(t, append(args, common...)...)
		t.Logf("dcctl %s -> %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		if strings.Contains(out+errOut, wrong) || strings.Contains(out+errOut, shopPw) {
			t.Fatal("a password was printed")
		}
		return out, errOut, code
	}
	if _, _, code := cli("backup", "ORDERS", "--domain", "core", "--account", "SHOP", "--out", filepath.Join(t.TempDir(), "b1")); code != 0 {
		t.Errorf("backup of SHOP's stream with LEDGER's password wrong: exit %d, want 0", code)
	}
	_, errOut, code := cli("backup", "ORDERS", "--domain", "core", "--out", filepath.Join(t.TempDir(), "b2"))
	if code == 0 || !strings.Contains(errOut, "the servers refuse its user ledger-app") || !strings.Contains(errOut, "streams of account LEDGER cannot be read or changed") {
		t.Errorf("backup that looks in every account: exit %d, want a failure naming account LEDGER and what it blocks", code)
	}
	if !strings.Contains(errOut, "check the password dcctl has for ledger-app: DCCTL_PASSWORD_LEDGER_APP in the environment") {
		t.Errorf("the refusal does not say where the password comes from:\n%s", errOut)
	}
	out, errOut, code := runCLI(t, "status", "-i", inv, "--direct", "--ssh-timeout", "2s")
	t.Logf("dcctl status -> %d\n%s%s", code, out, errOut)
	// status shows SHOP's streams and one warning for LEDGER's refusal.
	if code != 1 || !strings.Contains(out, "SHOP/ORDERS") || strings.Contains(out, "could not be listed") {
		t.Errorf("status with LEDGER's login refused: exit %d, want 1 with SHOP's stream ORDERS listed", code)
	}
	if n := strings.Count(out, "WARNING: account LEDGER: the servers refuse its user ledger-app"); n != 1 || !strings.Contains(out, "DCCTL_PASSWORD_LEDGER_APP in the environment") ||
		!strings.Contains(out, "Not shown, login refused: the streams of account LEDGER (user ledger-app)") {
		t.Errorf("status: %d warnings naming LEDGER's refused user, want 1 naming the variable, and the streams table saying what it lacks", n)
	}
	jout, jerr, code := runCLI(t, "status", "-i", inv, "--direct", "--ssh-timeout", "2s", "--json")
	var rep struct {
		RefusedAccounts []map[string]string `json:"refused_accounts"`
		Domains         []struct {
			StreamsError string `json:"streams_error"`
			Streams      []struct{ Account, Name string }
		} `json:"domains"`
	}
	if err := json.Unmarshal([]byte(jout), &rep); err != nil || code != 1 {
		t.Fatalf("status --json: exit %d, %v\n%s%s", code, err, jout, jerr)
	}
	if ra := rep.RefusedAccounts; len(ra) != 1 || ra[0]["account"] != "LEDGER" || ra[0]["user"] != "ledger-app" || ra[0]["password_from"] != "DCCTL_PASSWORD_LEDGER_APP in the environment" {
		t.Errorf("status --json refused_accounts %v, want LEDGER's user ledger-app and where its password comes from", ra)
	}
	if d := rep.Domains; len(d) != 1 || d[0].StreamsError != "" || len(d[0].Streams) != 1 || d[0].Streams[0].Account != "SHOP" {
		t.Errorf("status --json domains %+v, want SHOP's stream listed and no streams_error", d)
	}
	if strings.Contains(jout+jerr, wrong) {
		t.Error("status --json printed a password")
	}
	if strings.Contains(out+errOut, wrong) || strings.Contains(out+errOut, shopPw) {
		t.Error("status printed a password")
	}
}
