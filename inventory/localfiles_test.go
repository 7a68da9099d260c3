package inventory_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/dcctl/dcctl/inventory"
)

// fileContent is what a test writes into f: what content says, else a usable
// private key for a key file, else "x".
func fileContent(t *testing.T, f string, content map[string]string) []byte {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	switch c, ok := content[f]; {
	case ok && c == "pub":
		sp, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return ssh.MarshalAuthorizedKey(sp)
	case ok && c == "passphrase":
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	case ok:
		return []byte(c)
	case f == "id_ed25519":
		block, err = ssh.MarshalPrivateKey(priv, "")
	default:
		return []byte("x")
	}
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

// TestLocalFiles: the binary, SSH keys and known_hosts the inventory names
// are checked on this machine, each mistake under the key that names it.
func TestLocalFiles(t *testing.T) {
	withFiles := strings.Replace(base, `ssh_user = "root"`, "ssh_user = \"root\"\nssh_key = \"id_ed25519\"\nknown_hosts = \"known_hosts\"", 1)
	all := []string{"bin/nats-server", "id_ed25519", "known_hosts"}
	cases := []struct {
		name     string
		text     string
		files    []string // created as files
		dirs     []string // created as directories
		agent    bool
		problem  string // "key: message part", or "" for none
		line     int
		warning  string // "key: message part", or "" for none
		problems int
		content  map[string]string // file -> "pub", "passphrase" or literal content; other files get a usable key or "x"
	}{
		{"all present", withFiles, all, nil, false, "", 0, "", 0, nil},
		{"binary missing", withFiles, all[1:], nil, false, "nats.binary: does not exist", 8, "", 1, nil},
		{"binary a directory", withFiles, all[1:], []string{"bin/nats-server"}, false, "nats.binary: is a directory", 8, "", 1, nil},
		{"key is the public key", withFiles, all, nil, false, "defaults.ssh_key: is a public key", 4, "", 1, map[string]string{"id_ed25519": "pub"}},
		{"key not a key", withFiles, all, nil, false, "defaults.ssh_key: is not an SSH private key", 4, "", 1, map[string]string{"id_ed25519": "x"}},
		{"key with a passphrase, no agent", withFiles, all, nil, false, "defaults.ssh_key: protected by a passphrase", 4, "", 1, map[string]string{"id_ed25519": "passphrase"}},
		{"key with a passphrase, agent", withFiles, all, nil, true, "", 0, "defaults.ssh_key: only the keys in ssh-agent", 0, map[string]string{"id_ed25519": "passphrase"}},
		{"node's key not a key, defaults' fine", withFiles + "ssh_key = \"other\"\n", append(all, "other"), nil, false, "nodes.l1.ssh_key: other is not an SSH private key", 44, "", 1, map[string]string{"other": "x"}},
		{"key missing, no agent", withFiles, []string{all[0], all[2]}, nil, false, "defaults.ssh_key: SSH_AUTH_SOCK is not set", 4, "", 1, nil},
		{"node's key missing", withFiles + "ssh_key = \"nope\"\n", all, nil, false, "nodes.l1.ssh_key: nope does not exist", 44, "", 1, nil},
		{"built-in default key missing", strings.Replace(withFiles, "ssh_key = \"id_ed25519\"\n", "", 1), all, nil, false, "defaults.ssh_key: .ssh/id_ed25519 does not exist", 2, "", 1, nil},
		{"key missing, agent", withFiles, []string{all[0], all[2]}, nil, true, "", 0, "defaults.ssh_key: only the keys in ssh-agent", 0, nil},
		{"known_hosts missing", withFiles, all[:2], nil, false, "", 0, "defaults.known_hosts: --accept-new-host-keys", 0, nil},
		{"known_hosts a directory", withFiles, all[:2], []string{"known_hosts"}, false, "defaults.known_hosts: is a directory", 5, "", 1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("HOME", dir) // the built-in default key is ~/.ssh/id_ed25519
			p := filepath.Join(dir, "inv.toml")
			if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, d := range tc.dirs {
				if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tc.files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), fileContent(t, f, tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			inv, err := inventory.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			problems, warnings := inv.CheckLocalFiles(tc.agent)
			if len(problems) != tc.problems {
				t.Fatalf("%d problems, want %d: %v", len(problems), tc.problems, problems)
			}
			if tc.problem != "" {
				key, msg, _ := strings.Cut(tc.problem, ": ")
				if pr := problems[0]; pr.Key != key || !strings.Contains(pr.Msg, msg) || pr.Line != tc.line || pr.File != p {
					t.Errorf("problem %s, want %s at %s:%d", pr, tc.problem, p, tc.line)
				}
			}
			var ws []string
			for _, w := range warnings {
				ws = append(ws, w.String())
			}
			switch {
			case tc.warning == "" && len(ws) > 0:
				t.Errorf("unexpected warnings: %v", ws)
			case tc.warning != "":
				key, msg, _ := strings.Cut(tc.warning, ": ")
				if len(warnings) != 1 || warnings[0].Key != key || !strings.Contains(warnings[0].Msg, msg) {
					t.Errorf("warnings %v, want one: %s", ws, tc.warning)
				}
			}
		})
	}
}
