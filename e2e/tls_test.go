package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
)

// TestTLS: the provisioned lab speaks TLS everywhere, judged by the servers
// (the INFO they send, /varz, /leafz, /routez) and by clients of the
// test's own: a plaintext client is refused, every leaf link runs over
// TLS, the monitoring endpoints listen on loopback only, a rogue server
// without a certificate from the CA never becomes a route, and an exported
// natscli context connects, each DC's too.
func TestTLS(t *testing.T) {
	ensureProvisioned(t)
	invFile := labInventory(t)
	inv := mustLoad(t, invFile)
	sec, err := inventory.LoadSecrets(inv, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	app := inv.JetStreamAccounts()[0].Users[0]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("plaintext clients refused, TLS clients verifying the CA accepted", func(t *testing.T) {
		for _, cl := range inv.Clusters {
			n := cl.Active()[0]
			addr := strings.TrimPrefix(n.ClientURL(), "nats://")
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 4096)
			k, _ := conn.Read(buf)
			conn.Close()
			if !strings.Contains(string(buf[:k]), `"tls_required":true`) {
				t.Errorf("%s: INFO %q lacks tls_required", n.Name, buf[:k])
			}
			if nc, err := nats.Connect(n.ClientURL(), nats.UserInfo(app, sec.Password(app)), nats.NoReconnect(), nats.Timeout(5*time.Second)); err == nil {
				nc.Close()
				t.Errorf("%s: a client without the CA connected", n.Name)
			}
			if err := login(n.ClientURL(), app, sec.Password(app)); err != nil {
				t.Errorf("%s: TLS client verifying the CA: %v", n.Name, err)
			}
		}
	})

	t.Run("every route and leaf link is TLS, monitoring on loopback only", func(t *testing.T) {
		for _, n := range inv.Nodes {
			if n.Standby {
				continue
			}
			code, body, err := httpGet(ctx, n.Host, n.Ports.HTTP, "/varz")
			if err != nil || code != 200 {
				t.Fatalf("%s /varz: %d %v", n.Name, code, err)
			}
			var v struct {
				TLSRequired bool `json:"tls_required"`
				Cluster     struct {
					TLSRequired bool `json:"tls_required"`
					TLSVerify   bool `json:"tls_verify"`
				} `json:"cluster"`
				Leaf struct {
					TLSRequired bool `json:"tls_required"`
					TLSVerify   bool `json:"tls_verify"`
				} `json:"leaf"`
			}
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatal(err)
			}
			if !v.TLSRequired || !v.Cluster.TLSRequired || !v.Cluster.TLSVerify {
				t.Errorf("%s: TLS clients %v, routes %v verify %v", n.Name, v.TLSRequired, v.Cluster.TLSRequired, v.Cluster.TLSVerify)
			}
			if inv.HasLeaves(inv.ClusterOf(n)) && (!v.Leaf.TLSRequired || !v.Leaf.TLSVerify) {
				t.Errorf("%s: the leafnode listener takes links without TLS (required %v, verify %v)", n.Name, v.Leaf.TLSRequired, v.Leaf.TLSVerify)
			}
			if inv.ClusterOf(n).IsLeaf() {
				// links up through a listener that requires TLS: TLS links
				code, body, err := httpGet(ctx, n.Host, n.Ports.HTTP, "/leafz")
				if err != nil || code != 200 {
					t.Fatalf("%s /leafz: %d %v", n.Name, code, err)
				}
				var lz struct {
					Leafs []struct {
						Account string `json:"account"`
					} `json:"leafs"`
				}
				json.Unmarshal(body, &lz)
				if len(lz.Leafs) < len(inv.Accounts) {
					t.Errorf("%s: %d leafnode links, want one per account", n.Name, len(lz.Leafs))
				}
			}
			if c, err := net.DialTimeout("tcp", n.HTTPAddr(), 3*time.Second); err == nil {
				c.Close()
				t.Errorf("%s: the monitoring endpoint answers on %s, want 127.0.0.1 only", n.Name, n.HTTPAddr())
			}
		}
	})

	t.Run("a rogue server without a certificate from the CA never becomes a route", func(t *testing.T) {
		var hub *inventory.Cluster
		for _, cl := range inv.Clusters {
			if !cl.IsLeaf() {
				hub = cl
				break
			}
		}
		member := hub.Active()[0]
		host := hub.Active()[len(hub.Active())-1]
		const log = "/tmp/e2e-rogue.log"
		// the cluster's name, a route to a member, no TLS: what anyone who
		// reaches the cluster port could start
		sshHost(t, host.Name, fmt.Sprintf("rm -f %[1]s; (timeout 120 %[2]s -n e2e-rogue -a 127.0.0.1 -p 14999 -m 0 --cluster nats://%[3]s:16999 --cluster_name %[4]s --routes nats-route://%[5]s -D -l %[1]s </dev/null >/dev/null 2>&1 &)",
			log, inv.NATS.InstallPath, host.Addr(), hub.Name, net.JoinHostPort(member.Addr(), fmt.Sprint(member.Ports.Cluster))))
		t.Cleanup(func() { sshHost(t, host.Name, "pkill -f '[n]ats-server -n e2e-rogue' || true; rm -f "+log) })
		// The rogue tries again only after an attempt failed: two attempts
		// mean the first was turned away.
		testwait.Eventually(t, time.Minute, "the rogue's second route attempt", func() error {
			out := strings.TrimSpace(sshHost(t, host.Name, "grep -c 'Trying to connect to route' "+log+" || true"))
			if n, _ := strconv.Atoi(out); n < 2 {
				return fmt.Errorf("%q attempts so far", out)
			}
			return nil
		})
		for _, n := range hub.Active() {
			code, body, err := httpGet(ctx, n.Host, n.Ports.HTTP, "/routez")
			if err != nil || code != 200 {
				t.Fatalf("%s /routez: %d %v", n.Name, code, err)
			}
			if strings.Contains(string(body), "e2e-rogue") {
				t.Errorf("%s has a route to the rogue server", n.Name)
			}
		}
	})

	t.Run("an exported natscli context connects", func(t *testing.T) {
		// natscli reads its contexts from $XDG_CONFIG_HOME/nats/context.
		home := t.TempDir()
		dir := filepath.Join(home, "nats", "context")
		if out, errOut, code := runDcctl(t, "context", "export", invFile, "--dir", dir, "--prefix", "e2e-tls"); code != 0 {
			t.Fatalf("context export: exit %d\n%s%s", code, out, errOut)
		}
		data, err := os.ReadFile(filepath.Join(dir, "e2e-tls.json"))
		if err != nil {
			t.Fatal(err)
		}
		var c struct{ CA string }
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatal(err)
		}
		if c.CA == "" {
			t.Fatalf("the context names no CA: %s", data)
		}
		natscli := func(args ...string) string {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(), "bin", "nats"), args...)
			cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+home)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("nats %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return string(out)
		}
		// The application user's context: a TLS connection that verifies
		// the servers against the deployment's CA, and its JetStream.
		natscli("--context", "e2e-tls", "rtt")
		natscli("--context", "e2e-tls", "--js-domain", inv.Clusters[0].Domain, "stream", "ls")
		// The system user's: every server answers.
		out := natscli("--context", "e2e-tls:admin", "server", "list")
		for _, n := range inv.Nodes {
			if !n.Standby && !strings.Contains(out, n.Name) {
				t.Errorf("nats server list through the exported system context does not show %s:\n%s", n.Name, out)
			}
		}
		// Each DC's variant: natscli connects with it, and it names no
		// server of another DC (rtt measures each server of the list).
		for _, dc := range inv.DCs() {
			out := natscli("--context", "e2e-tls@"+dc, "rtt")
			for _, n := range inv.Nodes {
				addr := strings.TrimPrefix(n.ClientURL(), "nats://")
				switch {
				case n.Standby:
				case n.DC != dc && strings.Contains(out, addr):
					t.Errorf("nats rtt with the context of DC %s reaches %s of DC %s:\n%s", dc, n.Name, n.DC, out)
				case n.DC == dc && !strings.Contains(out, addr):
					t.Errorf("nats rtt with the context of DC %s does not show %s of that DC:\n%s", dc, n.Name, out)
				}
			}
		}
	})
}
