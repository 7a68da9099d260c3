package runbooks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/provision"
)

// TestLoginCheckAsksEveryAccount: rotate-passwords' post-check
// loginWithTheServersPasswords fails, naming the account, when the
// servers refuse one JetStream account's user, though the system user and
// the other account log in (a NATS connection then stands, that account's
// streams alone blocked).
func TestLoginCheckAsksEveryAccount(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "SHOP", AppUser: "shop-app", SysAccount: "OPS", SysUser: "ops",
		MoreAccounts: []testcluster.AccountSpec{{Name: "LEDGER", User: "ledger-app"}},
		Clusters: []testcluster.ClusterSpec{{Name: "CORE", Domain: "core", Nodes: []testcluster.NodeSpec{
			{Name: "c-1", DC: "x"}, {Name: "c-2", DC: "x"}}}}}
	l := newLab(t, spec)
	sec, err := inventory.LoadSecrets(l.c.Inv, func(k string) string {
		if k == inventory.EnvVar("ledger-app") {
			return "not-what-the-servers-take"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := pki.Load(l.c.Inv)
	if err != nil {
		t.Fatal(err)
	}
	m.Apply(sec)
	s := provision.NewSession(l.c.Inv, sec, provision.SessionOptions{Direct: true, NATSTimeout: testNATSTimeout})
	t.Cleanup(func() { s.Close() })
	e := l.env()
	e.Session = s
	var check *Check
	for _, c := range (&RotatePasswords{}).PostChecks(e) {
		if c.Name == "loginWithTheServersPasswords" {
			check = &c
		}
	}
	if check == nil {
		t.Fatal("no post-check loginWithTheServersPasswords")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = check.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "account LEDGER: the servers refuse its user ledger-app") {
		t.Errorf("login check with LEDGER's password wrong: %v", err)
	}
}
