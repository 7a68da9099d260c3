package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRunbookArgumentsBeforeAnyConnection: a replica count or replacement
// the inventory alone shows cannot work is refused (exit 2) before any
// secret is read, any lock taken or any host dialled: every node's SSH
// port is a listener here that must see no connection.
func TestRunbookArgumentsBeforeAnyConnection(t *testing.T) {
	t.Setenv("DCCTL_PASSWORD_ACC1", "")
	t.Setenv("DCCTL_PASSWORD_ADMIN", "")
	// every address: the nodes are hosts 127.0.x.y (one host runs one node)
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var dialled atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			dialled.Add(1)
			c.Close()
		}
	}()
	inv := backboneInventory(t) // cluster BB, domain hub: bb_emea_1, bb_emea_2, bb_us_1, bb_us_2
	raw, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	raw = []byte(strings.Replace(string(raw), "[defaults]\n", "[defaults]\nssh_port = "+port+"\n", 1))
	if err := os.WriteFile(inv, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"-i", inv, "--ssh-timeout", "1s", "--yes"}
	expand := func(more ...string) []string {
		return append(append([]string{"runbook", "expand-stream", "orders", "--domain", "hub"}, more...), common...)
	}
	// backups of another deployment: their manifests alone show it
	manifest := func(body string) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "dcctl-manifest.json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	restore := func(more ...string) []string {
		return append(append([]string{"runbook", "restore-stream"}, more...), common...)
	}
	cases := map[string][]string{
		"has no dcctl-manifest.json: not a dcctl backup": restore("--from", t.TempDir()),
		"is of domain elsewhere: no cluster":             restore("--from", manifest(`{"format":1,"stream":"orders","source_domain":"elsewhere"}`)),
		"of account GONE, which is not a JetStream account": restore("--from",
			manifest(`{"format":1,"stream":"orders","source_domain":"hub","source_account":"GONE"}`)),
		"--replicas 0: a stream has at least 1":                            expand("--replicas", "0"),
		"--replicas -2: a stream has at least 1":                           expand("--replicas", "-2"),
		"--replicas 99: JetStream keeps at most 5":                         expand("--replicas", "99"),
		"has 4 non-standby nodes (bb_emea_1, bb_emea_2, bb_us_1, bb_us_2)": expand("--replicas", "5"),
		"has 2 non-standby nodes tagged dc:emea (bb_emea_1, bb_emea_2)":    expand("--replicas", "3", "--tag", "dc:emea"),
		`no JetStream account "NOPE"`:                                      expand("--account", "NOPE"),
		`no node "nosuch"`:                                                 append([]string{"runbook", "replace-peer", "bb_us_2", "--replacement", "nosuch"}, common...),
		"the replacement must have a new server_name":                      append([]string{"runbook", "replace-peer", "bb_us_2", "--replacement", "bb_us_2"}, common...),
		`no JetStream account "NOPE2"`:                                     append([]string{"backup", "orders", "--domain", "hub", "--account", "NOPE2", "--out", filepath.Join(t.TempDir(), "b")}, common...),
		"--replicas 7: JetStream keeps at most 5":                          append([]string{"runbook", "restore-stream", "--from", t.TempDir(), "--domain", "hub", "--replicas", "7"}, common...),
	}
	for want, args := range cases {
		out, errOut, code := runCLI(t, args...)
		text := out + errOut
		if code != 2 || !strings.Contains(text, want) || strings.Contains(text, "DCCTL_PASSWORD_") || strings.Contains(text, "secrets.toml") {
			t.Errorf("dcctl %s: exit %d, want 2 saying %s (and nothing of secrets):\n%s", strings.Join(args, " "), code, want, text)
		}
	}
	if n := dialled.Load(); n != 0 {
		t.Errorf("%d SSH connection(s) made; bad arguments must be refused before any", n)
	}
}
