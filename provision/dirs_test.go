package provision

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/sshtest"
	"github.com/dcctl/dcctl/inventory"
)

// fakeNATSServer stands in for nats-server on the "host" (this machine):
// what is under test is where provision puts files, not what runs them.
const fakeNATSServer = "#!/bin/sh\ncase \"$1\" in --version) echo 'nats-server: v2.99.0-test';; -t) exit 0;; *) exit 1;; esac\n"

// TestProvisionCreatesTheDirectoriesItInstallsInto provisions one host (this
// machine, through the in-process sshd) whose binary, config and store go
// under directories that do not exist, beside a parent that exists with
// its own mode and owner. It runs provision's file phase for real: facts,
// plan, directories, the binary's upload and check, the configs' staging
// and install; only the systemd unit and systemctl stay off this machine.
func TestProvisionCreatesTheDirectoriesItInstallsInto(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: provision sets owners (run as root, as scripts/test.sh does)")
	}
	for name, sudo := range map[string]bool{"root_login": false, "sudo": true} {
		t.Run(name, func(t *testing.T) {
			root := hostRoot(t)
			srvParent := filepath.Join(root, "srv")
			if err := os.Mkdir(srvParent, 0o750); err != nil {
				t.Fatal(err)
			}
			os.Chmod(srvParent, 0o750)
			if err := os.Chown(srvParent, 4242, 4243); err != nil {
				t.Fatal(err)
			}
			s, node, sudoDir := dirsFixture(t, root, sudo)
			bin := filepath.Join(root, "opt/acme/nats/bin/nats-server")
			confDir := filepath.Join(root, "etc/acme/nats")
			store := filepath.Join(srvParent, "acme-data")

			// A login or sudo umask of 077 must not make the binary's
			// directory unreachable for the service user.
			old := syscall.Umask(0o077)
			defer syscall.Umask(old)

			p := planOne(t, s, node)
			wantParents := []string{filepath.Dir(confDir), filepath.Dir(bin)}
			for _, w := range wantParents {
				if !contains(p.Parents, w) {
					t.Errorf("plan's parents to create %v lack %s", p.Parents, w)
				}
			}
			if contains(p.Parents, srvParent) {
				t.Errorf("plan creates %s, which exists", srvParent)
			}
			applyFilesOnly(t, s, p)

			assertDir(t, filepath.Join(root, "opt/acme"), 0o755, 0, 0)
			assertDir(t, filepath.Dir(bin), 0o755, 0, 0)
			assertDir(t, filepath.Dir(confDir), 0o755, 0, 0)
			assertDir(t, confDir, 0o750, 0, 1)         // root:daemon
			assertDir(t, store, 0o750, 1, 1)           // daemon:daemon
			assertDir(t, srvParent, 0o750, 4242, 4243) // not ours: untouched
			for _, f := range []string{bin, filepath.Join(confDir, "nats-server.conf")} {
				if _, err := os.Stat(f); err != nil {
					t.Errorf("not installed: %v", err)
				}
			}

			// A second plan finds every directory in place.
			s.Forget(node.Name)
			p2 := planOne(t, s, node)
			if len(p2.Parents) != 0 || len(p2.Dirs) != 0 {
				t.Errorf("second plan still changes directories: %v", p2.Summary())
			}
			if sudo {
				log, err := os.ReadFile(filepath.Join(sudoDir, "sudo.log"))
				if err != nil || !strings.Contains(string(log), "-n sh -c") {
					t.Errorf("commands did not go through sudo: %q, %v", log, err)
				}
			}
		})
	}
}

// hostRoot is a fresh directory that plays the host's "/", removed at the
// end. It is not under t.TempDir(): validate refuses host paths under /tmp
// (the unit's PrivateTmp would hide them), as under /home and /root.
func hostRoot(t *testing.T) string {
	t.Helper()
	root, err := os.MkdirTemp("/var/lib", "dcctl-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	return root
}

// dirsFixture writes a one-node inventory whose host is the in-process
// sshd, with every path under root, and opens a session on it.
func dirsFixture(t *testing.T, root string, sudo bool) (*Session, *inventory.Node, string) {
	t.Helper()
	s, n, srv := hostFixture(t, root, sudo)
	sudoDir := ""
	if sudo {
		sudoDir = srv.SudoStandIn(t)
	}
	return s, n, sudoDir
}

// hostFixture is dirsFixture's inventory and session, with the server.
func hostFixture(t *testing.T, root string, sudo bool) (*Session, *inventory.Node, *sshtest.Server) {
	t.Helper()
	dir := t.TempDir()
	keyFile, signer := sshtest.ClientKey(t, dir)
	srv := sshtest.NewServer(t, signer.PublicKey())
	knownHosts := filepath.Join(dir, "known_hosts")
	sshtest.WriteKnownHost(t, knownHosts, srv.Addr, srv.HostKeys[0].PublicKey())
	binary := filepath.Join(dir, "nats-server")
	if err := os.WriteFile(binary, []byte(fakeNATSServer), 0o755); err != nil {
		t.Fatal(err)
	}
	inv := srv.Inventory(t, dir, keyFile, knownHosts, fmt.Sprintf("ssh_user = \"deploy\"\nsudo = %v\n", sudo),
		fmt.Sprintf("binary = %q\ninstall_path = %q\nconfig_dir = %q\nstore_dir = %q\nservice = \"dcctl-test-natsd\"\nuser = \"daemon\"\n",
			binary, filepath.Join(root, "opt/acme/nats/bin/nats-server"), filepath.Join(root, "etc/acme/nats"), filepath.Join(root, "srv/acme-data")))
	sec, err := inventory.PrepareSecrets(inv, func(k string) string { return "pw-" + k })
	if err == nil {
		err = sec.Save() // the route password, generated
	}
	if err != nil {
		t.Fatal(err)
	}
	withTLS(t, inv, sec)
	s := NewSession(inv, sec, SessionOptions{})
	t.Cleanup(func() { s.Close() })
	return s, inv.Node("n1"), srv
}

// planOne plans n as Plan does, but on this machine, which has no systemd:
// it plays a host for files and directories only.
func planOne(t *testing.T, s *Session, n *inventory.Node) *HostPlan {
	t.Helper()
	bin, err := binaryFile(s.Inv)
	if err != nil {
		t.Fatal(err)
	}
	dirs, files, err := desired(s.Inv, s.Secrets, bin, n.Name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Client(t.Context(), n.Name)
	if err != nil {
		t.Fatal(err)
	}
	facts, err := hostFacts(t.Context(), s, c, s.factsScriptFor(dirs, files))
	if err != nil {
		t.Fatal(err)
	}
	facts.Systemd = true
	p, err := planHost(t.Context(), s.Inv, s.Secrets, n, dirs, files, facts, fetcher(c))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// applyFilesOnly applies the plan without what would reach this machine's
// systemd: the unit file, its directory and every systemctl call.
func applyFilesOnly(t *testing.T, s *Session, p *HostPlan) {
	t.Helper()
	withoutUnit(p)
	p.DaemonReload, p.Enable, p.Action = false, false, ActionNone
	var log strings.Builder
	if err := runOn(t, s, p, &log, installPhases()); err != nil {
		t.Fatalf("apply: %v\n%s", err, log.String())
	}
}

func assertDir(t *testing.T, p string, mode os.FileMode, uid, gid uint32) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Errorf("directory %s: %v", p, err)
		return
	}
	sys := st.Sys().(*syscall.Stat_t)
	if !st.IsDir() || st.Mode().Perm() != mode || sys.Uid != uid || sys.Gid != gid {
		t.Errorf("%s: mode %o uid %d gid %d, want a directory %o %d:%d", p, st.Mode().Perm(), sys.Uid, sys.Gid, mode, uid, gid)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runOn runs phases on p's host as Apply does, logging to log.
func runOn(t *testing.T, s *Session, p *HostPlan, log *strings.Builder, phases []phase) error {
	t.Helper()
	c, err := s.Client(t.Context(), p.Node.Name)
	if err != nil {
		t.Fatal(err)
	}
	h := &hostRun{s: s, p: p, c: c, log: &lineLog{w: log}, timeout: 10 * time.Second}
	return runPhases(t.Context(), h, phases)
}

// withoutUnit drops from the plan what would reach this machine's systemd
// directory: the unit file and its directory.
func withoutUnit(p *HostPlan) {
	var files []FileChange
	for _, f := range p.Files {
		if f.File.Kind != "unit" {
			files = append(files, f)
		}
	}
	var parents []string
	for _, d := range p.Parents {
		if d != "/etc/systemd/system" {
			parents = append(parents, d)
		}
	}
	p.Files, p.Parents = files, parents
}
