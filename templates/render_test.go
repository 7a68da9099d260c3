package templates_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// loadExample copies the example inventory and a fixed secrets file (so the
// bcrypt hashes, and so the golden files, are stable) into a temp dir.
func loadExample(t *testing.T) (*inventory.Inventory, *inventory.Secrets) {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, "../inventory/example.toml", filepath.Join(dir, "example.toml"), 0o644)
	copyFile(t, "testdata/example.secrets.toml", filepath.Join(dir, "example.secrets.toml"), 0o600)
	inv, err := inventory.Load(filepath.Join(dir, "example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := inventory.LoadSecrets(inv, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	applyTLS(t, inv, sec)
	return inv, sec
}

// hereInstead makes a rendered file name the other files (the TLS ones,
// named by their paths on the host) in dir, where a test writes them all.
func hereInstead(inv *inventory.Inventory, dir string, content []byte) []byte {
	return bytes.ReplaceAll(content, []byte(`"`+inv.NATS.ConfigDir+"/"), []byte(`"`+dir+"/"))
}

// applyTLS gives sec a CA and certificates for every node of inv, made up
// for the test (certificates are random: golden files leave them out).
func applyTLS(t testing.TB, inv *inventory.Inventory, sec *inventory.Secrets) {
	t.Helper()
	m, err := pki.Placeholder(inv, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.Apply(sec)
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}

func TestRenderGolden(t *testing.T) {
	inv, sec := loadExample(t)
	for _, n := range inv.Nodes {
		files, err := templates.Render(inv, sec, n.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if f.Kind == templates.KindCert || f.Kind == templates.KindKey {
				continue // random
			}
			golden := filepath.Join("testdata", "golden", n.Name, filepath.Base(f.Path))
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, f.Content, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./templates -update to create it)", err)
			}
			if !bytes.Equal(want, f.Content) {
				t.Errorf("%s: rendered file differs from %s (run with -update after checking the change)\n--- got:\n%s", n.Name, golden, f.Content)
			}
		}
	}
}

func TestRenderedFilesShape(t *testing.T) {
	inv, sec := loadExample(t)
	leaf, err := templates.Render(inv, sec, "us_1")
	if err != nil {
		t.Fatal(err)
	}
	hub, err := templates.Render(inv, sec, "bb_emea_1")
	if err != nil {
		t.Fatal(err)
	}
	if len(leaf) != 6 || len(hub) != 5 {
		t.Fatalf("leaf node got %d files, hub node %d; want 6 (config, remotes, CA, certificate, key, unit) and 5", len(leaf), len(hub))
	}
	for _, f := range append(leaf, hub...) {
		if f.Kind == templates.KindKey && (!f.Secret || f.Mode != 0o640 || f.Owner != "root" || f.Group != inv.NATS.User) {
			t.Errorf("%s: a private key as %o %s:%s (secret %v), want 0640 root:%s, secret", f.Path, f.Mode, f.Owner, f.Group, f.Secret, inv.NATS.User)
		}
		if f.Kind != templates.KindKey && bytes.Contains(f.Content, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a private key", f.Path)
		}
		for _, pw := range sec.Values() {
			if bytes.Contains(f.Content, []byte(pw)) && !f.Secret {
				t.Errorf("%s holds a plaintext password but is not marked secret", f.Path)
			}
		}
		if f.Secret && f.Mode&0o007 != 0 {
			t.Errorf("%s holds secrets with mode %o", f.Path, f.Mode)
		}
	}
	remotes := string(leaf[1].Content)
	for _, acct := range []string{`account: "ACC1"`, `account: "SYS"`} {
		if !strings.Contains(remotes, acct) {
			t.Errorf("leaf remotes lack %s:\n%s", acct, remotes)
		}
	}
	if n := strings.Count(remotes, "nats-leaf://"); n != 8 {
		t.Errorf("leaf remotes list %d URLs, want 2 accounts x 4 backbone nodes", n)
	}
	if !bytes.Contains(hub[0].Content, []byte("leafnodes {")) || bytes.Contains(leaf[0].Content, []byte("listen: \"10.77.2.21:7422\"")) {
		t.Errorf("only the hub cluster should listen for leafnodes")
	}
	unit := string(hub[len(hub)-1].Content)
	for _, want := range []string{"KillSignal=SIGUSR2", "TimeoutStopSec=70", "ExecReload=/bin/kill -s HUP $MAINPID", "ProtectSystem=strict", "ReadWritePaths=/var/lib/nats", "User=nats", "Restart=on-failure", "LimitNOFILE=", "NoNewPrivileges=true"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
}

// TestRenderedConfigsParse feeds every rendered config to nats-server's own
// parser: a config it rejects would fail `nats-server -t` on the host.
func TestRenderedConfigsParse(t *testing.T) {
	inv, sec := loadExample(t)
	for _, n := range inv.Nodes {
		dir := t.TempDir()
		files, err := templates.Render(inv, sec, n.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(f.Path)), hereInstead(inv, dir, f.Content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		opts, err := server.ProcessConfigFile(filepath.Join(dir, templates.ConfigName))
		if err != nil {
			t.Fatalf("%s: nats-server rejects the rendered config: %v", n.Name, err)
		}
		if opts.ServerName != n.Name || opts.JetStreamDomain != inv.Domain(n) || opts.Cluster.Name != n.Cluster {
			t.Errorf("%s: parsed server_name=%q domain=%q cluster=%q", n.Name, opts.ServerName, opts.JetStreamDomain, opts.Cluster.Name)
		}
		if opts.SyncAlways != true {
			t.Errorf("%s: sync_interval always not in effect", n.Name)
		}
		wantRemotes := 0
		if inv.ClusterOf(n).IsLeaf() {
			wantRemotes = 2
		}
		if len(opts.LeafNode.Remotes) != wantRemotes {
			t.Errorf("%s: %d leafnode remotes, want %d", n.Name, len(opts.LeafNode.Remotes), wantRemotes)
		}
	}
}
