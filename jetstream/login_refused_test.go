package jetstream

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
)

// TestOneAccountsLoginRefused: the servers refuse the user of one account
// (a wrong password); Connect still succeeds, the other account's streams
// are read as before, and whatever needs the refused account (its view,
// the default account when it is the first, the list of every account's
// streams) fails with a LoginError naming the account and what it blocks;
// ReadableStreams lists the other account's streams and Refused names SALES.
// With no other connection to work with, Connect itself fails so.
func TestOneAccountsLoginRefused(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "SALES", AppUser: "sales", SysAccount: "OPS", SysUser: "ops",
		MoreAccounts: []testcluster.AccountSpec{{Name: "TELEMETRY", User: "tele"}},
		Clusters: []testcluster.ClusterSpec{{Name: "MAIN", Domain: "main", Nodes: []testcluster.NodeSpec{
			{Name: "m-1", DC: "x"}, {Name: "m-2", DC: "x"}}}}}
	cl := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	tele := cl.JetStreamAs(t, "main", "TELEMETRY")
	testcluster.CreateStream(t, tele, njs.StreamConfig{Name: "METRICS", Subjects: []string{"metrics.>"}, Replicas: 1, Storage: njs.FileStorage}, testwait.Converge)
	testcluster.Publish(t, tele, "metrics", 4)

	su, sp := cl.SysUser()
	tu, tp := cl.AccountUser("TELEMETRY")
	su2, _ := cl.AccountUser("SALES")
	accounts := []AccountUser{
		{Account: "SALES", Credentials: Credentials{User: su2, Password: "not-the-password", Source: "DCCTL_PASSWORD_SALES in the environment"}},
		{Account: "TELEMETRY", Credentials: Credentials{User: tu, Password: tp}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Connect(ctx, Options{URLs: cl.ClientURLs(), System: Credentials{User: su, Password: sp}, Accounts: accounts, Timeout: testTimeout, TLS: cl.TLSConfig()})
	if err != nil {
		t.Fatalf("one account's user refused fails the whole connect: %v", err)
	}
	defer c.Close()

	v, err := c.Account("TELEMETRY")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := v.Stream(ctx, "main", "METRICS"); err != nil || st.Msgs != 4 {
		t.Errorf("the other account's stream: %+v, %v", st, err)
	}
	if got := strings.Join(c.Accounts(), ","); got != "TELEMETRY" {
		t.Errorf("connected accounts %q, want TELEMETRY", got)
	}
	wantLogin := func(what string, err error) {
		t.Helper()
		var le *LoginError
		if !errors.As(err, &le) || le.Account != "SALES" {
			t.Errorf("%s: %v, want the refused login of account SALES", what, err)
			return
		}
		for _, want := range []string{"account SALES", "user " + su2, "streams of account SALES cannot be read or changed", "other accounts' streams can",
			"check the password dcctl has for " + su2 + ": DCCTL_PASSWORD_SALES in the environment"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q lacks %q", what, err, want)
			}
		}
		if strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("%s: the password is in the error", what)
		}
	}
	_, err = c.Account("SALES")
	wantLogin("view of SALES", err)
	_, err = c.Stream(ctx, "main", "METRICS") // the default account is the first: SALES
	wantLogin("a stream in the default account", err)
	_, err = c.AllStreams(ctx, "main")
	wantLogin("every account's streams", err)

	// A report still shows the streams it can read, and names the refusal.
	l, err := c.ReadableStreams(ctx, "main")
	if err != nil || len(l.Streams) != 1 || l.Streams[0].Account != "TELEMETRY" || l.Streams[0].Name != "METRICS" {
		t.Errorf("the streams that can be read: %+v, %v; want TELEMETRY's METRICS alone", l, err)
	}
	if r := c.Refused(); len(r) != 1 {
		t.Errorf("refused logins %v, want SALES's", r)
	} else {
		wantLogin("the refused login", r[0])
	}

	// Nothing else to work with: Connect says why.
	_, err = Connect(ctx, Options{URLs: cl.ClientURLs(), Accounts: accounts[:1], Timeout: testTimeout, TLS: cl.TLSConfig()})
	wantLogin("connect as SALES alone", err)
}
