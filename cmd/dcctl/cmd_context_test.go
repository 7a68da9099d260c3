package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
)

func TestContextExport(t *testing.T) {
	t.Setenv("DCCTL_PASSWORD_ACC1", "")
	t.Setenv("DCCTL_PASSWORD_ADMIN", "")
	p := copyExample(t)
	dir := filepath.Join(t.TempDir(), "ctx")
	out, errOut, code := runCLI(t, "context", "export", p, "--dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	inv, err := inventory.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := inventory.LoadSecrets(inv, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, n := range inv.Nodes {
		if !n.Standby {
			urls = append(urls, n.ClientURL())
		}
	}
	for name, user := range map[string]string{"local": "acc1", "local:admin": "admin"} {
		path := filepath.Join(dir, name+".json")
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
		}
		data, _ := os.ReadFile(path)
		var ctx map[string]any
		if err := json.Unmarshal(data, &ctx); err != nil {
			t.Fatal(err)
		}
		if ctx["user"] != user || ctx["password"] != sec.Password(user) || ctx["url"] != strings.Join(urls, ",") || ctx["description"] == "" {
			t.Errorf("%s: %v", name, ctx)
		}
		if !strings.Contains(out, path) {
			t.Errorf("output does not say where %s went:\n%s", name, out)
		}
		if strings.Contains(out+errOut, sec.Password(user)) {
			t.Error("password printed")
		}
	}

	// Again: nothing to change.
	if out, _, code := runCLI(t, "context", "export", p, "--dir", dir); code != 0 || !strings.Contains(out, "unchanged context local ") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
	// Someone's own context of that name is not overwritten unasked.
	mine := filepath.Join(dir, "local.json")
	os.WriteFile(mine, []byte(`{"url":"nats://elsewhere:4222"}`), 0o600)
	if _, errOut, code := runCLI(t, "context", "export", p, "--dir", dir); code != 2 || !strings.Contains(errOut, "--yes") {
		t.Errorf("overwrite without --yes: exit %d: %s", code, errOut)
	}
	if data, _ := os.ReadFile(mine); !strings.Contains(string(data), "elsewhere") {
		t.Error("context overwritten without confirmation")
	}
	if _, errOut, code := runCLI(t, "context", "export", p, "--dir", dir, "--yes"); code != 0 {
		t.Errorf("--yes: exit %d: %s", code, errOut)
	}
	if data, _ := os.ReadFile(mine); strings.Contains(string(data), "elsewhere") {
		t.Error("--yes did not overwrite")
	}

	// --prefix names both; --json says where, without passwords.
	out, _, code = runCLI(t, "context", "export", p, "--dir", dir, "--prefix", "dc1", "--json")
	var res, whole []exportedContext
	err = json.Unmarshal([]byte(out), &res)
	for _, e := range res {
		if e.DC == "" {
			whole = append(whole, e)
		}
	}
	if err != nil || code != 0 || len(whole) != 2 || whole[0].Name != "dc1" || whole[1].Name != "dc1:admin" {
		t.Fatalf("json: exit %d, %v, %s", code, err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "dc1:admin.json")); err != nil {
		t.Error(err)
	}
	if _, _, code := runCLI(t, "context", "export", p, "--dir", dir, "--prefix", "../x"); code != 2 {
		t.Errorf("prefix with a slash: exit %d", code)
	}

	// During a move to a new CA, clients are pointed at the bundle of both.
	caOf := func() any {
		t.Helper()
		var ctx map[string]any
		data, _ := os.ReadFile(filepath.Join(dir, "local.json"))
		if err := json.Unmarshal(data, &ctx); err != nil {
			t.Fatal(err)
		}
		return ctx["ca"]
	}
	if got := caOf(); got != pki.CAPath(p) {
		t.Errorf("context's CA %v, want %s", got, pki.CAPath(p))
	}
	m, err := pki.Load(inv)
	if err == nil {
		err = m.BeginRollover(inv, time.Now())
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCLI(t, "context", "export", p, "--dir", dir, "--yes"); code != 0 {
		t.Fatalf("export during a move to a new CA: exit %d: %s", code, errOut)
	}
	if got := caOf(); got != pki.BundlePath(p) {
		t.Errorf("context's CA during a move to a new CA: %v, want %s", got, pki.BundlePath(p))
	}
}

// TestContextExportEveryJetStreamAccount: a second JetStream account's
// first user gets a context named after the account.
func TestContextExportEveryJetStreamAccount(t *testing.T) {
	t.Setenv("DCCTL_PASSWORD_TELE", "tele-secret-1")
	p := copyExample(t)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data) + "\n[accounts.Telemetry]\njetstream = true\nusers = [\"tele\", \"tele-2\"]\n"
	t.Setenv("DCCTL_PASSWORD_TELE_2", "tele-secret-2")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ctx")
	out, errOut, code := runCLI(t, "context", "export", p, "--dir", dir, "--prefix", "corp")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "corp:Telemetry.json"))
	if err != nil {
		t.Fatalf("no context for the second JetStream account: %v\n%s", err, out)
	}
	var ctx map[string]any
	if err := json.Unmarshal(raw, &ctx); err != nil {
		t.Fatal(err)
	}
	if ctx["user"] != "tele" || ctx["password"] != "tele-secret-1" {
		t.Errorf("corp:Telemetry: user %v, password %v; want tele and its password", ctx["user"], ctx["password"])
	}
	for _, name := range []string{"corp.json", "corp:admin.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if strings.Contains(out+errOut, "tele-secret-1") {
		t.Error("password printed")
	}
}

// TestContextExportPerDC: with nodes in two DCs, every context gets a
// variant per DC (NAME@DC) that lists exactly that DC's client URLs, so
// that a client placed in a DC stays there when the link between the DCs
// is cut; the contexts themselves still list every node, as before.
func TestContextExportPerDC(t *testing.T) {
	t.Setenv("DCCTL_PASSWORD_TELE", "tele-secret-1")
	p := copyExample(t)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// DC names other than the example's, a second JetStream account and a
	// standby node, which takes no clients and is in no context.
	text := strings.NewReplacer(`dc = "emea"`, `dc = "west-1"`, `dc = "us"`, `dc = "East.2"`).Replace(string(data)) +
		"\n[accounts.Telemetry]\njetstream = true\nusers = [\"tele\"]\n" +
		"\n[nodes.spare_w]\ncluster = \"BB\"\ndc = \"west-1\"\nhost = \"10.77.1.19\"\nstandby = true\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ctx")
	out, errOut, code := runCLI(t, "context", "export", p, "--dir", dir, "--prefix", "ops", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res []exportedContext
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	read := func(name string) map[string]any {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var ctx map[string]any
		if err := json.Unmarshal(raw, &ctx); err != nil {
			t.Fatal(err)
		}
		return ctx
	}
	var all []string
	byDC := map[string][]string{}
	for _, n := range inv.Nodes {
		if !n.Standby {
			all = append(all, n.ClientURL())
			byDC[n.DC] = append(byDC[n.DC], n.ClientURL())
		}
	}
	if len(byDC) != 2 || len(byDC["west-1"]) == 0 || len(byDC["East.2"]) == 0 {
		t.Fatalf("test inventory: nodes by DC %v", byDC)
	}
	bases := []string{"ops", "ops:admin", "ops:Telemetry"}
	if len(res) != len(bases)*3 {
		t.Errorf("%d contexts, want %d (each and one per DC): %s", len(res), len(bases)*3, out)
	}
	for _, base := range bases {
		b := read(base)
		if b["url"] != strings.Join(all, ",") {
			t.Errorf("%s: url %v, want every node's: %s", base, b["url"], strings.Join(all, ","))
		}
		if strings.Contains(b["description"].(string), "only") {
			t.Errorf("%s: description %q", base, b["description"])
		}
		for dc, urls := range byDC {
			name := base + "@" + dc
			v := read(name)
			if v["url"] != strings.Join(urls, ",") {
				t.Errorf("%s: url %v, want exactly DC %s's: %s", name, v["url"], dc, strings.Join(urls, ","))
			}
			// The same user, password and CA as the context it varies.
			for _, k := range []string{"user", "password", "ca"} {
				if v[k] != b[k] {
					t.Errorf("%s: %s %v, want %v as in %s", name, k, v[k], b[k], base)
				}
			}
			if b["ca"] == "" && inv.TLS.Enabled {
				t.Errorf("%s: no CA with TLS on", base)
			}
			if fi, err := os.Stat(filepath.Join(dir, name+".json")); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v %v, want mode 0600", name, fi, err)
			}
			found := false
			for _, e := range res {
				found = found || (e.Name == name && e.DC == dc && e.URL == v["url"])
			}
			if !found {
				t.Errorf("--json does not list %s with its DC: %s", name, out)
			}
		}
	}
	if strings.Contains(out, "10.77.1.19") {
		t.Error("a standby node is in a context")
	}

	// Nodes in one DC only: no variants, the contexts as before.
	one := strings.ReplaceAll(text, `dc = "East.2"`, `dc = "west-1"`)
	if err := os.WriteFile(p, []byte(one), 0o644); err != nil {
		t.Fatal(err)
	}
	dir1 := filepath.Join(t.TempDir(), "ctx")
	out, errOut, code = runCLI(t, "context", "export", p, "--dir", dir1, "--prefix", "ops")
	if code != 0 {
		t.Fatalf("one DC: exit %d: %s", code, errOut)
	}
	entries, _ := os.ReadDir(dir1)
	if len(entries) != len(bases) {
		t.Errorf("one DC: %d files, want %d:\n%s", len(entries), len(bases), out)
	}
}

// TestContextExportAccountWithoutJetStream: an application account without
// JetStream has clients too: its first user gets a context (it got none),
// which names no JetStream domain; the system account gets no second one.
func TestContextExportAccountWithoutJetStream(t *testing.T) {
	t.Setenv("DCCTL_PASSWORD_CHATTER", "chat-secret-1")
	p := copyExample(t)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(data, "\n[accounts.chat]\nusers = [\"chatter\"]\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ctx")
	out, errOut, code := runCLI(t, "context", "export", p, "--dir", dir, "--prefix", "corp")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, name := range []string{"corp:chat.json", "corp:chat@us.json", "corp:chat@emea.json"} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("no context for the account without JetStream: %v\n%s", err, out)
		}
		var ctx map[string]any
		if err := json.Unmarshal(raw, &ctx); err != nil {
			t.Fatal(err)
		}
		if ctx["user"] != "chatter" || ctx["password"] != "chat-secret-1" || ctx["jetstream_domain"] != nil && ctx["jetstream_domain"] != "" {
			t.Errorf("%s: user %v, domain %v; want chatter and no domain", name, ctx["user"], ctx["jetstream_domain"])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "corp:SYS.json")); err == nil {
		t.Error("the system account got a second context")
	}
	if strings.Contains(out+errOut, "chat-secret-1") {
		t.Error("password printed")
	}
}

// TestContextExportDuringRotation: contexts exported while a password
// rotation is under way hold the password that --finish replaces (an audit's
// publishers, given them, were cut off at --finish): the export says so on
// stderr, naming the user and when to export again; none is printed after.
func TestContextExportDuringRotation(t *testing.T) {
	p := copyExample(t)
	inv, err := inventory.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := inventory.PrepareSecrets(inv, func(string) string { return "" })
	if err == nil {
		err = sec.BeginRotation([]string{"acc1"})
	}
	if err == nil {
		err = sec.Save()
	}
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ctx")
	out, errOut, code := runCLI(t, "context", "export", p, "--dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "the password rotation of acc1 is under way") || !strings.Contains(errOut, "export them again right after --finish") || strings.Contains(errOut, "of admin") {
		t.Errorf("no notice of the rotation (or one for a user not rotating):\nstderr: %s\nstdout: %s", errOut, out)
	}
	if strings.Contains(out+errOut, sec.Password("acc1")) {
		t.Error("password printed")
	}
}
