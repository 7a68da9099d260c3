package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
)

// runCLI runs dcctl in-process as a user would from a shell.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"dcctl"}, args...), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func copyExample(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile("../../inventory/example.toml")
	if err != nil {
		t.Fatal(err)
	}
	// The local files it names, beside it: validate checks they exist.
	text := strings.NewReplacer(`binary = "../bin/nats-server"`, `binary = "nats-server"`,
		`ssh_key = "~/.ssh/id_ed25519"`, `ssh_key = "id_ed25519"`,
		`known_hosts = "~/.ssh/known_hosts"`, `known_hosts = "known_hosts"`).Replace(string(data))
	for _, f := range []string{"nats-server", "known_hosts"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	testcluster.WriteSSHKey(t, filepath.Join(dir, "id_ed25519"))
	p := filepath.Join(dir, "inventory.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// Its passwords, as a deployment that runs has them (only provision
	// creates a secrets file).
	sec, err := os.ReadFile("../../templates/testdata/example.secrets.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "inventory.secrets.toml"), sec, 0o600); err != nil {
		t.Fatal(err)
	}
	// and its CA and certificates
	inv, err := inventory.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pki.Prepare(inv, time.Now())
	if err == nil {
		err = m.Save()
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateExampleWarnsAboutBackbone(t *testing.T) {
	out, _, code := runCLI(t, "validate", copyExample(t))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out, "4 nodes tolerate only 1 failure") {
		t.Errorf("no backbone warning:\n%s", out)
	}
}

// TestValidateSummaryCounts: the summary line counts in words that agree
// with the number ("1 cluster", "no warnings").
func TestValidateSummaryCounts(t *testing.T) {
	one := testcluster.Seed()
	one.Clusters = one.Clusters[:1] // 4 nodes: the even-size warning
	for _, tc := range []struct {
		spec testcluster.Spec
		want string
	}{
		{one, "OK (4 nodes in 1 cluster, 1 warning)"},
		{testcluster.Other(), "OK (11 nodes in 3 clusters, no warnings)"},
	} {
		out, errOut, code := runCLI(t, "validate", "--skip-local-files", testcluster.WriteInventory(t, tc.spec))
		if code != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("validate: exit %d, want 0 and %q:\n%s%s", code, tc.want, out, errOut)
		}
	}
}

func TestValidateBrokenReportsAllAndExits2(t *testing.T) {
	p := copyExample(t)
	data, _ := os.ReadFile(p)
	broken := strings.Replace(string(data), `domain = "us"`, `domain = "hub"`, 1)
	broken = strings.Replace(broken, `host = "10.77.2.23"`, "host = \"10.77.2.23\"\nclient_port = 70000\ncolour = \"red\"", 1)
	os.WriteFile(p, []byte(broken), 0o644)
	_, errOut, code := runCLI(t, "validate", p)
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, want := range []string{p + ":", "clusters.US.domain", "nodes.us_3.client_port: port 70000 is out of range", "nodes.us_3.colour: unknown key"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	out, _, code := runCLI(t, "validate", "--json", p)
	var res validateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 2 || res.Valid || len(res.Problems) != 3 {
		t.Errorf("json: code %d err %v res %+v", code, err, res)
	}
}

// TestValidateLocalFiles: validate refuses an inventory whose binary is
// missing, naming the key; --skip-local-files checks the inventory alone.
func TestValidateLocalFiles(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	p := copyExample(t)
	if err := os.Remove(filepath.Join(filepath.Dir(p), "nats-server")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(filepath.Dir(p), "known_hosts")); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "validate", p)
	if code != 2 || !strings.Contains(errOut, p+":17: nats.binary: "+filepath.Join(filepath.Dir(p), "nats-server")+" does not exist") {
		t.Errorf("missing binary: exit %d, want 2 naming nats.binary at line 17:\n%s", code, errOut)
	}
	// placed as an error is: file and line (known_hosts is written at line 10)
	if !strings.Contains(out, "warning: "+p+":10: defaults.known_hosts: ") || !strings.Contains(out, "--accept-new-host-keys") {
		t.Errorf("a missing known_hosts is not a warning pointing at --accept-new-host-keys:\n%s", out)
	}
	if _, errOut, code := runCLI(t, "validate", p, "--skip-local-files"); code != 0 {
		t.Errorf("--skip-local-files: exit %d\n%s", code, errOut)
	}
}

// TestRenderNeverFollowsLinks: a link planted among the output directories
// refuses the render before anything is written; a link in a file's place
// is replaced, and the file it pointed at keeps its content and mode.
func TestRenderNeverFollowsLinks(t *testing.T) {
	p := copyExample(t)
	elsewhere := t.TempDir()
	victim := filepath.Join(elsewhere, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}

	out := t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(out, "us_2")); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLI(t, "render", p, "--out", out)
	if code != 2 || !strings.Contains(errOut, filepath.Join(out, "us_2")+" is a symbolic link") {
		t.Errorf("linked node directory: exit %d, want 2 naming the link:\n%s", code, errOut)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 1 {
		t.Errorf("render wrote through the link: %v", entries)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 1 {
		t.Errorf("a refused render wrote %d entries, want only the planted link", len(entries))
	}

	out = t.TempDir()
	conf := filepath.Join(out, "us_2", "etc", "nats", "leafnode-remotes.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, conf); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCLI(t, "render", p, "--out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep" {
		t.Errorf("the link's target was written: %q", data)
	}
	if st, _ := os.Stat(victim); st.Mode().Perm() != 0o644 {
		t.Errorf("the link's target changed mode: %v", st.Mode())
	}
	st, err := os.Lstat(conf)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v, want a regular file, mode 0600", conf, st.Mode(), err)
	}
	if st, _ := os.Stat(filepath.Dir(conf)); st.Mode().Perm() != 0o700 {
		t.Errorf("an existing output directory kept mode %v, want 0700", st.Mode().Perm())
	}
}

func TestInventoryResolution(t *testing.T) {
	p := copyExample(t)
	if _, _, code := runCLI(t, "validate", "-i", p); code != 0 {
		t.Errorf("-i: exit %d", code)
	}
	t.Setenv("DCCTL_INVENTORY", p)
	if _, _, code := runCLI(t, "validate"); code != 0 {
		t.Errorf("$DCCTL_INVENTORY: exit %d", code)
	}
	t.Setenv("DCCTL_INVENTORY", "")
	t.Chdir(filepath.Dir(p))
	if _, _, code := runCLI(t, "validate"); code != 0 {
		t.Errorf("./inventory.toml: exit %d", code)
	}
}

func TestRenderWritesEveryNodeWithModes(t *testing.T) {
	p := copyExample(t)
	out := t.TempDir()
	if _, errOut, code := runCLI(t, "render", p, "--out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{"bb_emea_1/etc/nats/nats-server.conf", 0o600},
		{"us_2/etc/nats/leafnode-remotes.conf", 0o600},
		{"emea_3/etc/systemd/system/nats-server.service", 0o644},
		{"us_2", fs.ModeDir | 0o700},
		{"us_2/etc/nats", fs.ModeDir | 0o700},
	} {
		st, err := os.Stat(filepath.Join(out, f.path))
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		if st.Mode()&(fs.ModeDir|fs.ModePerm) != f.mode {
			t.Errorf("%s: mode %v, want %v", f.path, st.Mode(), f.mode)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "bb_emea_1/etc/nats/leafnode-remotes.conf")); err == nil {
		t.Errorf("hub node got leaf remotes")
	}
}

func TestGraphIsDOT(t *testing.T) {
	out, _, code := runCLI(t, "graph", "../../inventory/example.toml")
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(out[strings.Index(out, "\n"):]), "digraph dcctl {") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	for _, want := range []string{`"cluster_dc_emea"`, `domain hub`, `"bb_emea_1" -> "bb_us_2"`, `label="leaf ACC1"`, `label="leaf SYS"`} {
		if !strings.Contains(out, want) {
			t.Errorf("graph lacks %s", want)
		}
	}
}

func TestMissingInventoryIsBadInput(t *testing.T) {
	t.Chdir(t.TempDir())
	_, errOut, code := runCLI(t, "render", "--out", "x")
	if code != 2 || !strings.Contains(errOut, "inventory.toml") {
		t.Errorf("exit %d, stderr %s", code, errOut)
	}
}
