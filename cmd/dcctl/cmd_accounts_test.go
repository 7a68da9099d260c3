package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
)

// TestStreamNameTwoAccountsHave: `dcctl backup NAME` where two JetStream
// accounts each have a stream NAME is refused (exit 2) naming both
// accounts and --account; with --account it backs up that account's stream
// and says so as ACCOUNT/NAME. No password of either account is printed.
func TestStreamNameTwoAccountsHave(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "SHOP", AppUser: "shop-app", SysAccount: "OPS", SysUser: "ops",
		MoreAccounts: []testcluster.AccountSpec{{Name: "LEDGER", User: "ledger-app"}},
		Clusters: []testcluster.ClusterSpec{{Name: "CORE", Domain: "core", Nodes: []testcluster.NodeSpec{
			{Name: "c-1", DC: "x"}, {Name: "c-2", DC: "x"}, {Name: "c-3", DC: "x"}}}}}
	inv := testcluster.WriteInventory(t, spec)
	c := testcluster.Start(t, inv)
	var passwords []string
	for account, n := range map[string]int{"SHOP": 3, "LEDGER": 8} {
		js := c.JetStreamAs(t, "core", account)
		testcluster.CreateStream(t, js, njs.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Replicas: 1, Storage: njs.FileStorage}, time.Minute)
		testcluster.Publish(t, js, "orders", n)
		_, pw := c.AccountUser(account)
		passwords = append(passwords, pw)
	}
	common := []string{"-i", inv, "--direct", "--ssh-timeout", "2s", "--timeout", "60s", "--without-lock"}
	cli := func(args ...string) (string, string, int) {
		t.Helper()
		out, errOut, code := runCLI(t, append(args, common...)...)
		t.Logf("dcctl %s -> %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		for _, pw := range passwords {
			if strings.Contains(out+errOut, pw) {
				t.Fatal("a password was printed")
			}
		}
		return out, errOut, code
	}
	dir := filepath.Join(t.TempDir(), "orders")
	if _, errOut, code := cli("backup", "ORDERS", "--domain", "core", "--out", dir); code != 2 ||
		!strings.Contains(errOut, "accounts LEDGER and SHOP each have a stream ORDERS") || !strings.Contains(errOut, "--account LEDGER or --account SHOP") {
		t.Fatalf("backup of a name two accounts have: exit %d, want 2 naming both accounts and --account", code)
	}
	if out, _, code := cli("backup", "ORDERS", "--domain", "core", "--account", "LEDGER", "--out", dir); code != 0 || !strings.Contains(out, "snapshot(LEDGER/ORDERS") {
		t.Fatalf("backup --account LEDGER: exit %d", code)
	}
}
