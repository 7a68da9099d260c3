package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/sshtest"
)

// TestSudoAskingForAPasswordSaysSo: with sudo = true and an SSH user whose
// sudo wants a password, sudo -n fails at once (no prompt, no hang) and
// every command says, naming the host and the step, that passwordless
// sudo is what is missing; nothing is created on the host. provision's
// first command on a host is the deployment lock's take, which used to
// fail with sudo's words alone, twice over; plan said the host was
// "unreachable".
func TestSudoAskingForAPasswordSaysSo(t *testing.T) {
	dir := t.TempDir()
	keyFile, signer := sshtest.ClientKey(t, dir)
	srv := sshtest.NewServer(t, signer.PublicKey())
	knownHosts := filepath.Join(dir, "known_hosts")
	sshtest.WriteKnownHost(t, knownHosts, srv.Addr, srv.HostKeys[0].PublicKey())
	// An x86-64 ELF binary (the arch check reads it before any upload).
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nats-server"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	sudoDir := srv.SudoStandIn(t)
	if err := os.WriteFile(filepath.Join(sudoDir, "deny"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	inv := srv.Inventory(t, dir, keyFile, knownHosts, "ssh_user = \"deploy\"\nsudo = true\n",
		`binary = "nats-server"
install_path = "/var/lib/dcctl-sudo-test/bin/nats-server"
config_dir = "/var/lib/dcctl-sudo-test/etc"
store_dir = "/var/lib/dcctl-sudo-test/data"`)
	for _, cmd := range [][]string{{"provision"}, {"plan"}} {
		_, stderr, code := runCLI(t, append(cmd, "--ssh-timeout", "2s", inv.File)...)
		if code == 0 {
			t.Fatalf("%s with sudo asking for a password: exit 0\n%s", cmd[0], stderr)
		}
		for _, want := range []string{"n1: sudo -n refused to run as root for deploy", "NOPASSWD", `ssh_user = "root"`} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd[0], want, stderr)
			}
		}
		if strings.Count(stderr, "a password is required") != 1 {
			t.Errorf("%s: sudo's words should appear once:\n%s", cmd[0], stderr)
		}
		if strings.Contains(stderr, "n1 could not be checked (unreachable)") {
			t.Errorf("%s: n1 answered, it is not unreachable:\n%s", cmd[0], stderr)
		}
		t.Logf("%s: exit %d\n%s", cmd[0], code, stderr)
	}
	if !strings.Contains(mustRead(t, filepath.Join(sudoDir, "sudo.log")), "-n sh -c") {
		t.Error("no command went through sudo -n")
	}
	if _, err := os.Stat("/var/lib/dcctl-sudo-test"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("something was created on the host: %v", err)
		os.RemoveAll("/var/lib/dcctl-sudo-test")
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
