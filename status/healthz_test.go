package status_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/status"
	"github.com/dcctl/dcctl/templates"
)

// TestServerSaying503IsNotHealthy: a server reloaded without an account
// that holds a stream answers everything over NATS, but its /healthz says
// 503 "JetStream can not lookup account" (on the lab for minutes, while
// status called the deployment healthy). The report is not healthy, names
// the server and its reason in a warning, in the servers table and in the
// JSON's new healthz field; the others say 200.
func TestServerSaying503IsNotHealthy(t *testing.T) {
	spec := testcluster.Spec{AppAccount: "SALES", AppUser: "sales-app", SysAccount: "OPS", SysUser: "ops",
		MoreAccounts: []testcluster.AccountSpec{{Name: "METRICS", User: "metrics-w"}},
		Clusters: []testcluster.ClusterSpec{{Name: "CORE9", Domain: "core9", Nodes: []testcluster.NodeSpec{
			{Name: "k-1", DC: "west"}, {Name: "k-2", DC: "west"}, {Name: "k-3", DC: "east"}}}}}
	c := testcluster.Start(t, testcluster.WriteInventory(t, spec))
	js := c.JetStreamAs(t, "core9", "METRICS")
	testcluster.CreateStream(t, js, njs.StreamConfig{Name: "CPU", Subjects: []string{"cpu.>"}, Replicas: 3, Storage: njs.FileStorage}, testwait.Converge)
	testcluster.Publish(t, js, "cpu", 3)
	s := session(t, c)
	r := waitReport(t, s, settle, healthy)

	// A follower's config without the account, as an edit of the
	// inventory provision would reload it with: the meta and the stream
	// leaders keep answering for the rest.
	sick := ""
	for _, n := range []string{"k-1", "k-2", "k-3"} {
		if n != domain(r, "core9").MetaLeader && n != domain(r, "core9").Streams[0].Leader {
			sick = n
		}
	}
	path := filepath.Join(c.NodeDir(sick), templates.ConfigName)
	conf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)\n  "?METRICS"?: \{.*?\n  \}`)
	if !block.Match(conf) {
		t.Fatalf("no METRICS account in %s:\n%s", path, conf)
	}
	if err := os.WriteFile(path, block.ReplaceAll(conf, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(sick); err != nil {
		t.Fatal(err)
	}

	r = waitReport(t, s, settle, func(r *status.Report) error {
		for _, sv := range domain(r, "core9").Servers {
			if sv.Name == sick && sv.Online && sv.Healthz != nil && sv.Healthz.Code == 503 {
				return nil
			}
		}
		return fmt.Errorf("%s does not answer online with /healthz 503", sick)
	})
	if r.Healthy {
		t.Errorf("report healthy while %s answers /healthz 503", sick)
	}
	var sickServer *status.Server
	for _, sv := range domain(r, "core9").Servers {
		if sv.Name == sick {
			sickServer = sv
		} else if sv.Healthz == nil || sv.Healthz.Code != 200 {
			t.Errorf("%s: healthz %+v, want 200", sv.Name, sv.Healthz)
		}
	}
	if !strings.Contains(sickServer.Healthz.Error, "METRICS") {
		t.Errorf("%s's reason %q does not name the account", sick, sickServer.Healthz.Error)
	}
	warned := false
	for _, w := range r.Warnings {
		if w.Level == status.LevelDegraded && strings.Contains(w.Message, "server "+sick+" ") && strings.Contains(w.Message, "/healthz answers 503: "+sickServer.Healthz.Error) {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no degraded warning with %s's 503 and its reason: %+v", sick, r.Warnings)
	}
	var text bytes.Buffer
	r.Write(&text)
	row := ""
	for _, line := range strings.Split(text.String(), "\n") {
		if strings.Contains(line, " "+sick+" ") && strings.Contains(line, "online") {
			row = line
		}
	}
	if !strings.Contains(row, "503: "+sickServer.Healthz.Error[:20]) {
		t.Errorf("servers table row of %s lacks its 503 and reason: %q\n%s", sick, row, text.String())
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"healthz":{"code":503,"error":`)) || !bytes.Contains(b, []byte(`"healthz":{"code":200}`)) {
		t.Errorf("JSON lacks the healthz fields: %s", b)
	}
}
