package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
)

// TestTLSCutover: a running deployment never changes between plaintext and
// TLS node by node (a cluster half on TLS is two clusters): provision
// refuses, touching nothing, and --tls-cutover restarts every node at once.
// Both ways are run: to plaintext (what an earlier dcctl deployed) and back
// to TLS, the migration the refusal offers. Judged by the hosts (config
// sums), the servers (a plaintext login, then a TLS one) and the messages
// of a stream written before (all still there).
func TestTLSCutover(t *testing.T) {
	ensureProvisioned(t)
	lab := labInventory(t)
	inv := mustLoad(t, lab)
	d := newDrillLab(t)
	hub := ""
	for _, cl := range inv.Clusters {
		if !cl.IsLeaf() {
			hub = cl.Domain
		}
	}
	const stream, msgs = "E2ECUTOVER", 50
	d.freshStream(hub, njs.StreamConfig{Name: stream, Subjects: []string{"e2ecutover.>"}, Replicas: 3, Storage: njs.FileStorage}, msgs)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		openDrillLab(t, lab).js(hub).DeleteStream(ctx, stream)
	})

	plain := besideLab(t, "e2e-plain", true)
	data, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain, append(data, []byte("\n[tls]\nenabled = false\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	// Whatever happens, the lab ends on TLS again.
	t.Cleanup(func() {
		if _, errOut, code := runDcctl(t, "provision", lab); code != 0 {
			if _, errOut, code = runDcctl(t, "provision", lab, "--tls-cutover"); code != 0 {
				t.Errorf("putting the lab back on TLS: exit %d\n%s", code, errOut)
			}
		}
	})
	app := inv.JetStreamAccounts()[0].Users[0]
	sec, err := inventory.LoadSecrets(inv, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	pw := sec.Password(app)
	node := activeNodes(t)[0]
	url := inv.Node(node.Name).ClientURL()
	conf := func() string { return hostSHA(t, node.Name, "/etc/nats/nats-server.conf") }

	for _, step := range []struct {
		inventory, to string
	}{{plain, "plaintext"}, {lab, "TLS"}} {
		before := conf()
		_, errOut, code := runDcctl(t, "provision", step.inventory)
		if code != 2 || !strings.Contains(errOut, "--tls-cutover") || !strings.Contains(errOut, "[tls] enabled") {
			t.Fatalf("to %s node by node: exit %d, want 2 and the ways out:\n%s", step.to, code, errOut)
		}
		if after := conf(); after != before {
			t.Fatalf("the refused run to %s changed %s's config", step.to, node.Name)
		}
		if out, errOut, code := runDcctl(t, "provision", step.inventory, "--tls-cutover"); code != 0 {
			t.Fatalf("provision --tls-cutover to %s: exit %d\n%s\n%s", step.to, code, out, errOut)
		}
		testwait.Eventually(t, 2*time.Minute, "status healthy on "+step.to, func() error {
			if out, _, code := runDcctl(t, "status", step.inventory); code != 0 {
				return fmt.Errorf("status exit %d\n%s", code, out)
			}
			return nil
		})
		if step.to == "plaintext" {
			if err := plainLogin(url, app, pw); err != nil {
				t.Fatalf("plaintext login after the cutover to plaintext: %v", err)
			}
		}
	}
	// On TLS again: the plaintext login fails, the TLS one works, and every
	// message written before both cutovers is there.
	if err := plainLogin(url, app, pw); err == nil {
		t.Error("a plaintext client logged in after the cutover to TLS")
	}
	if err := login(url, app, pw); err != nil {
		t.Errorf("TLS login after the cutover: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := openDrillLab(t, lab).js(hub).Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().State.Msgs; got != msgs {
		t.Errorf("%s holds %d messages after two cutovers, want %d", stream, got, msgs)
	}
}

// plainLogin connects to url without TLS.
func plainLogin(url, user, password string) error {
	nc, err := nats.Connect(url, nats.UserInfo(user, password), nats.Timeout(5*time.Second), nats.NoReconnect())
	if err != nil {
		return err
	}
	defer nc.Close()
	return nc.Flush()
}
