package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	p := filepath.Join(dir, "inventory.toml")
	if err := os.WriteFile(p, data, 0o644); err != nil {
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
	return p
}

func TestValidateExampleWarnsAboutBackbone(t *testing.T) {
	out, _, code := runCLI(t, "validate", "../../inventory/example.toml")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out, "4 nodes tolerate only 1 failure") {
		t.Errorf("no backbone warning:\n%s", out)
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
		{"bb_emea_1/etc/nats/nats-server.conf", 0o640},
		{"us_2/etc/nats/leafnode-remotes.conf", 0o640},
		{"emea_3/etc/systemd/system/nats-server.service", 0o644},
	} {
		st, err := os.Stat(filepath.Join(out, f.path))
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		if st.Mode().Perm() != f.mode {
			t.Errorf("%s: mode %o, want %o", f.path, st.Mode().Perm(), f.mode)
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
