package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	njs "github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/ssh"

	"github.com/dcctl/dcctl/internal/testwait"
	"github.com/dcctl/dcctl/inventory"
)

// TestReliability provokes the faults of docs/reliability.md on the lab and
// judges dcctl by what the hosts report (sha256sum, systemctl, the lock
// file, /healthz), not by dcctl's own word. Each subtest puts the lab back
// as it found it, even when it fails: the other e2e tests expect a healthy,
// provisioned lab.
func TestReliability(t *testing.T) {
	ensureProvisioned(t)
	start := time.Now()
	tr := &transcript{}
	clearLocks(t)
	t.Cleanup(func() { clearLocks(t) })

	t.Run("lock: a second operator is refused, a dead holder's lock expires, --break-lock", func(t *testing.T) {
		testLock(t, tr)
	})
	t.Run("host key changed: refused, nothing touched, both fingerprints", func(t *testing.T) {
		testHostKeyChanged(t, tr)
	})
	t.Run("config nats-server rejects: no restart, old config kept, nats-server's message", func(t *testing.T) {
		testRejectedConfig(t, tr)
	})
	t.Run("host unreachable at start: others complete, recap says unreachable, re-run converges", func(t *testing.T) {
		testUnreachable(t, tr)
	})
	t.Run("ssh connection lost during the binary upload: old binary kept, no temp file, re-run converges", func(t *testing.T) {
		testUploadCut(t, tr)
	})
	t.Run("node does not come back in a rolling restart: rollout stops there; meanwhile a second operator is refused", func(t *testing.T) {
		testRolloutStops(t, tr)
	})
	t.Run("node does not come back in provision's rollout: the next node is not touched", func(t *testing.T) {
		testProvisionRolloutStops(t, tr)
	})
	t.Run("secrets: no password in any output, error or journal", func(t *testing.T) {
		testNoSecrets(t, tr, start)
	})
}

// transcript keeps everything dcctl printed during the test, for the
// secrets check at the end.
type transcript struct {
	mu   sync.Mutex
	runs []string
	// Passwords of the inventory copies' secrets files (a copy may add a
	// user, hence a password the lab's file does not hold) and the journals
	// written beside the copies, read before their directories go.
	passwords map[string]bool
	journals  map[string]string
}

// keep reads the passwords of a secrets file and every journal under dir
// written after since into the transcript.
func (tr *transcript) keep(t *testing.T, secrets, dir string, since time.Time) {
	t.Helper()
	var doc struct {
		Users map[string]struct {
			Password string `toml:"password"`
		} `toml:"users"`
		Route struct {
			Password string `toml:"password"`
		} `toml:"route"`
	}
	if _, err := toml.DecodeFile(secrets, &doc); err != nil {
		t.Errorf("%s: %v", secrets, err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.passwords == nil {
		tr.passwords, tr.journals = map[string]bool{}, map[string]string{}
	}
	for _, u := range doc.Users {
		if u.Password != "" {
			tr.passwords[u.Password] = true
		}
	}
	if doc.Route.Password != "" {
		tr.passwords[doc.Route.Password] = true
	}
	filepath.WalkDir(filepath.Join(dir, ".dcctl", "journal"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		if info, err := e.Info(); err == nil && info.ModTime().After(since) {
			if b, err := os.ReadFile(p); err == nil {
				tr.journals[p] = string(b)
			}
		}
		return nil
	})
}

func (tr *transcript) add(args []string, out, errOut string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.runs = append(tr.runs, "$ dcctl "+strings.Join(args, " ")+"\n"+out+errOut)
}

// dcctl runs bin/dcctl and records its output.
func (tr *transcript) dcctl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	out, errOut, code := runDcctl(t, args...)
	tr.add(args, out, errOut)
	return out, errOut, code
}

// background is a dcctl run started without waiting for it.
type background struct {
	cmd      *exec.Cmd
	out, err bytes.Buffer
	done     chan struct{}
	code     int
}

func (tr *transcript) start(t *testing.T, args ...string) *background {
	t.Helper()
	b := &background{done: make(chan struct{})}
	b.cmd = exec.Command(filepath.Join(repoRoot(), "bin", "dcctl"), args...)
	b.cmd.Dir = repoRoot()
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.err
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start dcctl %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		err := b.cmd.Wait()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			b.code = exit.ExitCode()
		} else if err != nil {
			b.code = -1
		}
		tr.add(args, b.out.String(), b.err.String())
		close(b.done)
	}()
	// A failing test must not leave a dcctl holding the deployment lock.
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

func (b *background) wait(t *testing.T, timeout time.Duration) (string, string, int) {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(timeout):
		t.Fatalf("dcctl %s still running after %v:\n%s%s", strings.Join(b.cmd.Args[1:], " "), timeout, b.out.String(), b.err.String())
	}
	t.Logf("dcctl %s -> exit %d", strings.Join(b.cmd.Args[1:], " "), b.code)
	return b.out.String(), b.err.String(), b.code
}

// copyInventory writes a copy of the lab inventory into a new directory,
// with absolute paths, the [nats] lines in natsExtra added, every
// occurrence of the replace pairs applied, and the lab's secrets file beside
// it (mode 0600), so that passwords stay the same.
func copyInventory(t *testing.T, tr *transcript, natsExtra string, replace ...string) string {
	t.Helper()
	lab := filepath.Join(repoRoot(), "lab")
	data, err := os.ReadFile(labInventory(t))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	pairs := append([]string{
		`ssh_key = "id_ed25519"`, fmt.Sprintf("ssh_key = %q", filepath.Join(lab, "id_ed25519")),
		`known_hosts = "known_hosts"`, fmt.Sprintf("known_hosts = %q", filepath.Join(lab, "known_hosts")),
		`binary = "../bin/nats-server"`, fmt.Sprintf("binary = %q", filepath.Join(repoRoot(), "bin", "nats-server")),
		"[nats]\n", "[nats]\n" + natsExtra,
	}, replace...)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("copy of the lab inventory: %q not found", pairs[i])
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "inventory.toml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	sec, err := os.ReadFile(filepath.Join(lab, "inventory.secrets.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inventory.SecretsPath(p), sec, 0o600); err != nil {
		t.Fatal(err)
	}
	copyTLS(t, p)
	// Registered after TempDir's own cleanup, so it runs before the
	// directory is removed.
	t.Cleanup(func() { tr.keep(t, inventory.SecretsPath(p), dir, time.Time{}) })
	return p
}

// extraUser is a reloadable change: one more user in the application account.
var extraUser = []string{`users = ["acc1"]`, `users = ["acc1", "relacc"]`}

// netns is the network namespace of a node's lab host.
func netns(node string) string { return "dcl-" + strings.ReplaceAll(node, "_", "-") }

// nftOnHost loads an nftables table into node's network namespace (from
// this machine: the host's own sshd is what it cuts) and removes it at
// cleanup.
func nftOnHost(t *testing.T, node, table string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", netns(node), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(table)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft on %s: %v: %s", node, err, out)
	}
	t.Cleanup(func() { unNft(t, node) })
}

func unNft(t *testing.T, node string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", netns(node), "nft", "delete", "table", "inet", "dcctl_rel").CombinedOutput()
	if err != nil && !strings.Contains(string(out), "No such file") {
		t.Errorf("remove nft table on %s: %v: %s", node, err, out)
	}
}

const lockPath = "/run/dcctl/deployment.lock"

// clearLocks removes the deployment lock from every lab host.
func clearLocks(t *testing.T) {
	t.Helper()
	for _, n := range labNodes(t) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if out, err := trySSH(ctx, "root", n.Host, "rm -f "+lockPath); err != nil {
			t.Errorf("clear lock on %s: %v %s", n.Name, err, out)
		}
		cancel()
	}
}

// locksOnHosts returns each host's lock file content (hosts without one left out).
func locksOnHosts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range labNodes(t) {
		s := sshHost(t, n.Name, "cat "+lockPath+" 2>/dev/null || true")
		if strings.TrimSpace(s) != "" {
			out[n.Name] = s
		}
	}
	return out
}

func hostSHA(t *testing.T, node, path string) string {
	t.Helper()
	return strings.Fields(sshHost(t, node, "sha256sum "+path+" 2>/dev/null || echo absent"))[0]
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

type recapJSON struct {
	Hosts []struct {
		Node   string `json:"node"`
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"hosts"`
}

func parseRecap(t *testing.T, out string) map[string]string {
	t.Helper()
	var r recapJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("recap JSON: %v\n%s", err, out)
	}
	st := map[string]string{}
	for _, h := range r.Hosts {
		st[h.Node] = h.Status
	}
	return st
}

// restoreLab provisions the lab with its own inventory and requires success.
func restoreLab(t *testing.T, tr *transcript, args ...string) {
	t.Helper()
	out, errOut, code := tr.dcctl(t, append([]string{"provision", labInventory(t)}, args...)...)
	if code != 0 {
		t.Errorf("restoring the lab: provision exit %d\n%s\n%s", code, out, errOut)
	}
}

func testLock(t *testing.T, tr *transcript) {
	inv := labInventory(t)
	t.Cleanup(func() { clearLocks(t) })
	first := labNodes(t)[0].Name // the lock is taken in name order: this host decides
	since := time.Now().UTC().Add(-3 * time.Minute).Truncate(time.Second).Format(time.RFC3339)
	other := fmt.Sprintf("id=0123456789abcdef01234567\nwho=eve@ops-laptop\npid=31337\nsince=%s\ncommand=dcctl runbook rolling-restart --cluster BB\n", since)
	plant := func(age string) {
		sshHost(t, first, fmt.Sprintf("mkdir -p /run/dcctl && printf '%%s' '%s' > %s && touch -d '%s' %s", other, lockPath, age, lockPath))
	}

	plant("now")
	_, usBefore := unitTimes(t, "us_1")
	out, errOut, code := tr.dcctl(t, "provision", inv)
	if code != 2 {
		t.Fatalf("provision under another operator's live lock: exit %d, want 2\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"locked by eve@ops-laptop", "pid 31337", "dcctl runbook rolling-restart --cluster BB", since, first, "--break-lock"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("refusal lacks %q:\n%s", want, errOut)
		}
	}
	if _, errOut, code := tr.dcctl(t, "node", "stop", "us_1", inv, "--yes"); code != 2 || !strings.Contains(errOut, "eve@ops-laptop") {
		t.Errorf("node stop under a live lock: exit %d, want 2 naming the holder\n%s", code, errOut)
	}
	if _, enter := unitTimes(t, "us_1"); enter != usBefore || strings.TrimSpace(sshHost(t, "us_1", "systemctl is-active nats-server")) != "active" {
		t.Fatal("node stop went ahead under another operator's lock")
	}
	if _, errOut, code := tr.dcctl(t, "runbook", "rolling-restart", "--cluster", "US", "--yes", inv); code != 2 || !strings.Contains(errOut, "eve@ops-laptop") {
		t.Errorf("runbook under a live lock: exit %d, want 2 naming the holder\n%s", code, errOut)
	}
	// Read-only commands do not take the lock.
	for _, args := range [][]string{{"plan", inv}, {"provision", inv, "--check"}, {"runbook", "rolling-restart", "--cluster", "US", "--dry-run", inv}, {"validate", inv}} {
		if out, errOut, code := tr.dcctl(t, args...); code != 0 {
			t.Errorf("dcctl %s under a lock: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	// The lock file is the other operator's still, untouched.
	if got := sshHost(t, first, "cat "+lockPath); got != other {
		t.Fatalf("lock file after refusals: %q", got)
	}

	// A holder that died: its heartbeat stops; past the bound the lock is taken over.
	plant("-10 minutes")
	out, errOut, code = tr.dcctl(t, "provision", inv)
	if code != 0 || !strings.Contains(errOut, "replaced the lock of eve@ops-laptop") {
		t.Fatalf("provision over an expired lock: exit %d, want 0 saying whose lock it replaced\n%s%s", code, out, errOut)
	}
	if l := locksOnHosts(t); len(l) != 0 {
		t.Fatalf("locks left after the run: %v", l)
	}

	// --break-lock removes a live one.
	plant("now")
	out, errOut, code = tr.dcctl(t, "provision", inv, "--break-lock")
	if code != 0 || !strings.Contains(errOut, "replaced the lock of eve@ops-laptop") {
		t.Fatalf("provision --break-lock: exit %d\n%s%s", code, out, errOut)
	}
	if l := locksOnHosts(t); len(l) != 0 {
		t.Fatalf("locks left after the run: %v", l)
	}
}

func testHostKeyChanged(t *testing.T, tr *transcript) {
	victim := "us_2"
	addr := hostAddr(t, victim)
	known, err := os.ReadFile(filepath.Join(repoRoot(), "lab", "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "other")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	otherPub, err := os.ReadFile(keyFile + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var realKey string
	for _, line := range strings.Split(strings.TrimSpace(string(known)), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == addr {
			realKey = f[1] + " " + f[2]
			pf := strings.Fields(string(otherPub))
			line = addr + " " + pf[0] + " " + pf[1]
		}
		lines = append(lines, line)
	}
	if realKey == "" {
		t.Fatalf("no known_hosts line for %s", addr)
	}
	copyKnown := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(copyKnown, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fp := func(authorized string) string {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorized))
		if err != nil {
			t.Fatal(err)
		}
		return ssh.FingerprintSHA256(k)
	}
	offered, expected := fp(realKey), fp(string(otherPub))
	labKnown := filepath.Join(repoRoot(), "lab", "known_hosts")
	inv := copyInventory(t, tr, "", append([]string{fmt.Sprintf("known_hosts = %q", labKnown), fmt.Sprintf("known_hosts = %q", copyKnown)}, extraUser...)...)
	// Order matters: copyInventory first makes the path absolute, then the
	// pair above points it at the copy.
	// The added user's password, for the commands other than provision
	// (which alone may create one): they refuse a missing password before
	// they reach any host.
	t.Setenv(inventory.EnvVar("relacc"), "e2e-relacc-password")

	_, before := unitTimes(t, "us_1")
	for _, args := range [][]string{{"provision", inv}, {"runbook", "rolling-restart", "--cluster", "US", "--yes", inv}, {"node", "restart", "us_1", inv, "--yes"}} {
		out, errOut, code := tr.dcctl(t, args...)
		if code != 2 {
			t.Errorf("dcctl %s with a changed host key: exit %d, want 2\n%s%s", args[0], code, out, errOut)
		}
		for _, want := range []string{"HOST KEY CHANGED", victim, expected, offered} {
			if !strings.Contains(errOut, want) {
				t.Errorf("dcctl %s: refusal lacks %q:\n%s", args[0], want, errOut)
			}
		}
	}
	// Nothing touched anywhere: no host got the new user, no unit restarted, no lock left.
	for _, n := range activeNodes(t) {
		if strings.Contains(sshHost(t, n.Name, "cat /etc/nats/nats-server.conf"), "relacc") {
			t.Errorf("%s got the change although a host key had changed", n.Name)
		}
	}
	if _, after := unitTimes(t, "us_1"); after != before {
		t.Error("us_1 was restarted although a host key had changed")
	}
	if l := locksOnHosts(t); len(l) != 0 {
		t.Errorf("locks left: %v", l)
	}
}

func testRejectedConfig(t *testing.T, tr *transcript) {
	// The validator accepts any digits with a unit; nats-server's parser
	// refuses a size beyond int64.
	const bad = "99999999999999999999GB"
	inv := copyInventory(t, tr, fmt.Sprintf("max_file_store = %q\n", bad))
	if out, errOut, code := tr.dcctl(t, "validate", inv); code != 0 {
		t.Fatalf("validate no longer accepts max_file_store %s (then provoke the rejection another way): exit %d\n%s%s", bad, code, out, errOut)
	}
	nodes := []string{"us_1", "us_2", "us_3"}
	confs, enters := map[string]string{}, map[string]uint64{}
	for _, n := range nodes {
		confs[n] = hostSHA(t, n, "/etc/nats/nats-server.conf")
		_, enters[n] = unitTimes(t, n)
	}
	out, errOut, code := tr.dcctl(t, "provision", inv, "--limit", strings.Join(nodes, ","), "--json")
	if code != 1 {
		t.Fatalf("provision of a config nats-server rejects: exit %d, want 1\n%s%s", code, out, errOut)
	}
	st := parseRecap(t, out)
	for _, n := range nodes {
		if st[n] != "failed" {
			t.Errorf("%s: recap status %q, want failed", n, st[n])
		}
	}
	// nats-server's own words, with the live path (not the staging one).
	for _, want := range []string{"nats-server rejected the new configuration", "integer '" + bad + "' is out of the range", "/etc/nats/nats-server.conf"} {
		if !strings.Contains(out, want) {
			t.Errorf("error lacks %q:\n%s", want, out)
		}
	}
	for _, n := range nodes {
		if got := hostSHA(t, n, "/etc/nats/nats-server.conf"); got != confs[n] {
			t.Errorf("%s: the config on the host changed", n)
		}
		if _, e := unitTimes(t, n); e != enters[n] {
			t.Errorf("%s: restarted", n)
		}
		if left := strings.TrimSpace(sshHost(t, n, "ls -d /etc/nats/.dcctl-check /etc/nats/*.dcctl-tmp 2>/dev/null || true")); left != "" {
			t.Errorf("%s: staging left behind: %s", n, left)
		}
	}
}

func testUnreachable(t *testing.T, tr *transcript) {
	victim := "us_3"
	inv := copyInventory(t, tr, "", extraUser...)
	t.Cleanup(func() {
		unNft(t, victim)
		restoreLab(t, tr)
	})
	// sshd stays up on the host, but nothing reaches it: packets to port 22
	// are dropped in the host's own network namespace, as a firewall or a
	// dead link would. NATS keeps running there.
	nftOnHost(t, victim, "table inet dcctl_rel {\n chain in {\n  type filter hook input priority -10; policy accept;\n  tcp dport 22 drop\n }\n}\n")
	t0 := time.Now()
	out, errOut, code := tr.dcctl(t, "provision", inv, "--ssh-timeout", "3s", "--json")
	if code != 1 {
		t.Fatalf("provision with %s unreachable: exit %d, want 1\n%s%s", victim, code, out, errOut)
	}
	t.Logf("provision with one host unreachable took %s", time.Since(t0).Round(100*time.Millisecond))
	st := parseRecap(t, out)
	for _, n := range activeNodes(t) {
		want := "changed"
		if n.Name == victim {
			want = "unreachable"
		}
		if st[n.Name] != want {
			t.Errorf("%s: recap %q, want %q", n.Name, st[n.Name], want)
		}
		if n.Name != victim && !strings.Contains(sshHost(t, n.Name, "cat /etc/nats/nats-server.conf"), "relacc") {
			t.Errorf("%s did not get the change", n.Name)
		}
	}
	if !strings.Contains(errOut, "deployment lock not taken on unreachable "+victim) {
		t.Errorf("the run did not say the lock skipped %s:\n%s", victim, errOut)
	}

	unNft(t, victim)
	out, errOut, code = tr.dcctl(t, "provision", inv, "--json")
	if code != 0 {
		t.Fatalf("re-run once %s is back: exit %d\n%s%s", victim, code, out, errOut)
	}
	if st := parseRecap(t, out); st[victim] != "changed" {
		t.Errorf("re-run: %s %q, want changed", victim, st[victim])
	}
	if !strings.Contains(sshHost(t, victim, "cat /etc/nats/nats-server.conf"), "relacc") {
		t.Errorf("%s did not get the change on the re-run", victim)
	}
	out, _, code = tr.dcctl(t, "plan", inv)
	if code != 0 || !strings.Contains(out, "0 of 11 hosts to change") {
		t.Errorf("after the re-run, plan: exit %d\n%s", code, out)
	}
}

// uploadInProgress finds, among this machine's processes, the one writing
// path+".dcctl-tmp" inside node's network namespace: the host's sftp-server
// (uploads go over SFTP), or the shell of an exec upload's install script
// (transfer = "exec"). It returns the sshd process serving it (its nearest
// sshd ancestor) and the temporary file's current size.
func uploadInProgress(node, path string) (sshd int, size int64, err error) {
	nsIno := func(p string) uint64 {
		var st syscall.Stat_t
		if syscall.Stat(p, &st) != nil {
			return 0
		}
		return st.Ino
	}
	want := nsIno("/run/netns/" + netns(node))
	if want == 0 {
		return 0, 0, fmt.Errorf("no netns %s", netns(node))
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	marker := []byte(path + ".dcctl-tmp")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p + "/cmdline")
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(p + "/comm")
		execUpload := bytes.Contains(cmdline, marker) && bytes.Contains(cmdline, []byte("trap"))
		if !execUpload && strings.TrimSpace(string(comm)) != "sftp-server" {
			continue
		}
		if nsIno(p+"/ns/net") != want {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(p))
		st, err := os.Stat(p + "/root" + path + ".dcctl-tmp")
		if err != nil {
			return 0, 0, fmt.Errorf("upload shell %d found, no temporary file yet", pid)
		}
		for cur := pid; cur > 1; {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cur))
			if err != nil {
				return 0, 0, err
			}
			// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
			s := string(stat)
			comm := s[strings.IndexByte(s, '(')+1 : strings.LastIndexByte(s, ')')]
			if comm == "sshd" {
				return cur, st.Size(), nil
			}
			f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
			cur, _ = strconv.Atoi(f[1])
		}
		return 0, 0, fmt.Errorf("upload shell %d has no sshd ancestor", pid)
	}
	return 0, 0, errors.New("no upload in progress")
}

func testUploadCut(t *testing.T, tr *transcript) {
	victim := "us_3"
	const installed = "/usr/local/bin/nats-server"
	oldSHA := fileSHA(t, filepath.Join(repoRoot(), "bin", "nats-server"))
	if got := hostSHA(t, victim, installed); got != oldSHA {
		t.Fatalf("%s does not run bin/nats-server before the test (%s)", victim, got)
	}
	// A binary with another sha256: the same program with bytes appended.
	bin := filepath.Join(t.TempDir(), "nats-server")
	data, err := os.ReadFile(filepath.Join(repoRoot(), "bin", "nats-server"))
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, bytes.Repeat([]byte("dcctl reliability test\n"), 1000)...)
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	newSHA := fileSHA(t, bin)
	labBin := filepath.Join(repoRoot(), "bin", "nats-server")
	inv := copyInventory(t, tr, "", fmt.Sprintf("binary = %q", labBin), fmt.Sprintf("binary = %q", bin))
	t.Cleanup(func() {
		unNft(t, victim)
		restoreLab(t, tr, "--limit", victim)
		if got := hostSHA(t, victim, installed); got != oldSHA {
			t.Errorf("cleanup: %s runs %s, not bin/nats-server", victim, got)
		}
	})

	// Slow the upload down (ssh traffic into the host limited to 1 MB/s;
	// this kernel has no netem) so that it can be cut in the middle.
	nftOnHost(t, victim, "table inet dcctl_rel {\n chain in {\n  type filter hook input priority -10; policy accept;\n  tcp dport 22 limit rate over 1 mbytes/second drop\n }\n}\n")
	_, enter := unitTimes(t, victim)
	run := tr.start(t, "provision", inv, "--limit", victim)
	var sshd int
	var size int64
	testwait.Eventually(t, 60*time.Second, "the binary upload to "+victim+" under way (2 MB sent)", func() error {
		select {
		case <-run.done:
			return fmt.Errorf("stop polling: provision ended first")
		default:
		}
		var err error
		sshd, size, err = uploadInProgress(victim, installed)
		if err == nil && size < 2<<20 {
			return fmt.Errorf("%d bytes so far", size)
		}
		return err
	})
	// Kill the sshd process of dcctl's connection on the host: the
	// connection is gone, as when a host or a link dies mid-transfer.
	if err := syscall.Kill(sshd, syscall.SIGKILL); err != nil {
		t.Fatalf("kill sshd %d: %v", sshd, err)
	}
	t.Logf("killed sshd %d on %s with %d bytes of %d uploaded", sshd, victim, size, len(data))
	out, errOut, code := run.wait(t, 2*time.Minute)
	if code != 1 {
		t.Fatalf("provision with its connection cut mid-upload: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "upload nats-server binary") {
		t.Errorf("the recap does not say the binary upload failed:\n%s", out)
	}
	if got := hostSHA(t, victim, installed); got != oldSHA {
		t.Fatalf("after the cut upload %s has binary %s, want the old one %s", victim, got, oldSHA)
	}
	if _, e := unitTimes(t, victim); e != enter {
		t.Error("the unit was restarted after a failed upload")
	}
	left := strings.TrimSpace(sshHost(t, victim, "ls -l "+installed+".dcctl-tmp 2>/dev/null || true"))
	t.Logf("temporary file right after the cut: %q", left)

	unNft(t, victim)
	out, errOut, code = tr.dcctl(t, "provision", inv, "--limit", victim)
	if code != 0 {
		t.Fatalf("re-run after the cut: exit %d\n%s%s", code, out, errOut)
	}
	if got := hostSHA(t, victim, installed); got != newSHA {
		t.Errorf("re-run: %s has %s, want the new binary %s", victim, got, newSHA)
	}
	if left := strings.TrimSpace(sshHost(t, victim, "ls "+installed+".dcctl-tmp 2>/dev/null || true")); left != "" {
		t.Errorf("temporary file survived the re-run: %s", left)
	}
	if l := locksOnHosts(t); len(l) != 0 {
		t.Errorf("locks left after the runs (the cut connection's host included): %v", l)
	}
}

func testRolloutStops(t *testing.T, tr *transcript) {
	inv := labInventory(t)
	nodes := []string{"us_1", "us_2", "us_3"}
	// rolling-restart restarts the meta leader last: the first follower in
	// inventory order goes first. One server's answer while the leadership
	// still moves after the previous subtest's restarts made the runbook
	// restart another node first: every node must name the same leader.
	leader := agreedMetaLeader(t, nodes)
	victim := ""
	for _, n := range nodes {
		if n != leader {
			victim = n
			break
		}
	}
	enters := map[string]uint64{}
	for _, n := range nodes {
		_, enters[n] = unitTimes(t, n)
	}
	breakStore(t, tr, victim)

	run := tr.start(t, "runbook", "rolling-restart", "--cluster", "US", "--yes", "--timeout", "20s", inv)
	// While it runs, a second operator is refused, told who holds the lock.
	pidLine := fmt.Sprintf("pid=%d\n", run.cmd.Process.Pid)
	first := labNodes(t)[0].Name
	testwait.Eventually(t, 60*time.Second, "the runbook's lock on "+first, func() error {
		if s := sshHost(t, first, "cat "+lockPath+" 2>/dev/null || true"); !strings.Contains(s, pidLine) {
			return fmt.Errorf("lock: %q", s)
		}
		return nil
	})
	out, errOut, code := tr.dcctl(t, "provision", inv)
	if code != 2 {
		t.Errorf("provision during a rolling restart: exit %d, want 2\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"locked by", fmt.Sprintf("pid %d", run.cmd.Process.Pid), "runbook rolling-restart --cluster US", "since"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("refusal lacks %q:\n%s", want, errOut)
		}
	}

	out, errOut, code = run.wait(t, 3*time.Minute)
	if code != 1 {
		t.Fatalf("rolling restart with %s unable to come back: exit %d, want 1\n%s%s", victim, code, out, errOut)
	}
	text := out + errOut
	if i := strings.Index(out, "FAILED after"); i >= 0 {
		t.Logf("the runbook says: %s", out[i:])
	}
	if !strings.Contains(text, victim) {
		t.Errorf("the failure does not name %s:\n%s", victim, text)
	}
	// why: the gate's wait, and the unit's own log. (nats-server words an
	// unreadable store as "storage directory is not a directory".)
	if !strings.Contains(text, "last log lines of nats-server.service") || !strings.Contains(text, "Can't start JetStream") {
		t.Errorf("the failure does not say why (the server's log):\n%s", text)
	}
	for _, n := range nodes {
		_, e := unitTimes(t, n)
		switch {
		case n == victim && e == enters[n]:
			t.Errorf("%s was not restarted at all", n)
		case n != victim && e != enters[n]:
			t.Errorf("%s was restarted after %s failed to come back", n, victim)
		}
	}
	if l := locksOnHosts(t); len(l) != 0 {
		t.Errorf("locks left after the runbook: %v", l)
	}
}

// testNoSecrets runs the commands not run above and checks everything
// TestReliability's dcctl runs printed, and every journal written since it
// started, for the passwords of the lab's secrets file and of the copies.
func testNoSecrets(t *testing.T, tr *transcript, since time.Time) {
	inv := labInventory(t)
	d := newDrillLab(t)
	const stream = "RELSECRETS"
	d.freshStream("emea", njs.StreamConfig{Name: stream, Subjects: []string{"relsecrets.>"}, Replicas: 1, Storage: njs.FileStorage}, 20)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.js("emea").DeleteStream(ctx, stream); err != nil && !errors.Is(err, njs.ErrStreamNotFound) {
			t.Errorf("delete %s: %v", stream, err)
		}
	})
	changed := copyInventory(t, tr, "", extraUser...)
	backup := filepath.Join(t.TempDir(), "backup")
	steps := []struct {
		args []string
		ok   bool // must succeed
	}{
		{[]string{"validate", inv}, true},
		{[]string{"validate", inv, "--json"}, true},
		{[]string{"render", inv, "--out", t.TempDir()}, true},
		{[]string{"graph", inv}, true},
		{[]string{"plan", changed, "--diff"}, true},
		{[]string{"plan", changed, "--diff", "--json"}, true},
		{[]string{"provision", changed, "--diff"}, true}, // adds a user: a reload everywhere, diffs shown
		{[]string{"provision", inv, "--diff"}, true},     // and back
		{[]string{"context", "export", inv, "--dir", t.TempDir()}, true},
		{[]string{"status", inv}, true},
		{[]string{"status", inv, "--json"}, true},
		{[]string{"runbook", "expand-stream", stream, "--domain", "emea", "--replicas", "3", "--yes", inv}, true},
		{[]string{"backup", stream, "--domain", "emea", "--out", backup, inv}, true},
		{[]string{"runbook", "replace-peer", "emea_1", inv, "--yes"}, false}, // refused: emea_1 is up
		{[]string{"runbook", "restore-node", "emea_1", "--yes", inv}, true},
		{[]string{"runbook", "rolling-restart", "--cluster", "EMEA", "--yes", inv}, true},
	}
	for _, s := range steps {
		if out, errOut, code := tr.dcctl(t, s.args...); s.ok && code != 0 {
			t.Errorf("dcctl %s: exit %d\n%s%s", strings.Join(s.args, " "), code, out, errOut)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.js("emea").DeleteStream(ctx, stream); err != nil {
		t.Fatalf("delete %s before restoring it: %v", stream, err)
	}
	if out, errOut, code := tr.dcctl(t, "runbook", "restore-stream", "--from", backup, "--domain", "emea", "--yes", inv); code != 0 {
		t.Errorf("restore-stream: exit %d\n%s%s", code, out, errOut)
	}

	// The copies made by this subtest are read at its cleanup, too late here.
	tr.keep(t, filepath.Join(repoRoot(), "lab", "inventory.secrets.toml"), filepath.Join(repoRoot(), "lab"), since)
	tr.keep(t, inventory.SecretsPath(changed), filepath.Dir(changed), since)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	passwords := tr.passwords
	if len(passwords) < 3 {
		t.Fatalf("only %d passwords found in the secrets files", len(passwords))
	}
	if len(tr.journals) < 4 {
		t.Errorf("only %d journals written since the test started", len(tr.journals))
	}
	texts := map[string]string{}
	for i, r := range tr.runs {
		texts[fmt.Sprintf("run %d: %s", i, strings.SplitN(r, "\n", 2)[0])] = r
	}
	for j, text := range tr.journals {
		texts["journal "+j] = text
	}
	journals := tr.journals
	t.Logf("checked %d dcctl runs and %d journals for %d passwords", len(texts)-len(journals), len(journals), len(passwords))
	for name, text := range texts {
		for p := range passwords {
			if strings.Contains(text, p) {
				t.Errorf("%s shows a password from the secrets file", name)
			}
		}
	}
	// Nor any private key: none in PEM form, no line of the lab's keys.
	keys := labKeyMaterial(t)
	for name, text := range texts {
		if strings.Contains(text, "PRIVATE KEY") {
			t.Errorf("%s shows a PEM private key", name)
		}
		for _, k := range keys {
			if strings.Contains(text, k) {
				t.Errorf("%s shows private key material from the lab's TLS directory", name)
			}
		}
	}
	// A leaked bcrypt hash is an offline-crackable password: none either.
	hash := regexp.MustCompile(`\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}`)
	for name, text := range texts {
		if hash.MatchString(text) {
			t.Errorf("%s shows a bcrypt hash", name)
		}
	}
}

// breakStore makes node's JetStream store unreadable for the nats user (the
// running server does not notice; a restarted one cannot start JetStream)
// and repairs it at cleanup, waiting until the node is healthy again. It is
// the store's jetstream directory, which nats-server creates, not the
// store_dir itself: provision manages that one's mode and would repair it.
func breakStore(t *testing.T, tr *transcript, node string) {
	t.Helper()
	const dir = "/var/lib/nats/jetstream"
	mode := strings.TrimSpace(sshHost(t, node, "stat -c %a "+dir))
	sshHost(t, node, "chmod 000 "+dir)
	t.Cleanup(func() {
		sshHost(t, node, fmt.Sprintf("chmod %s %s && systemctl reset-failed nats-server; systemctl restart nats-server", mode, dir))
		testwait.Eventually(t, 2*time.Minute, node+" healthy again", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			code, body, err := httpGet(ctx, hostAddr(t, node), natsHTTPPort, "/healthz")
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("/healthz %d %s", code, body)
			}
			return err
		})
		restoreLab(t, tr)
	})
}

// testProvisionRolloutStops: a change that needs a restart rolls through
// cluster US one node at a time (inventory order, the meta leader last);
// the first node cannot come back, so provision stops there and the other
// two keep running the old config.
func testProvisionRolloutStops(t *testing.T, tr *transcript) {
	nodes := []string{"us_1", "us_2", "us_3"}
	// Provision restarts the meta leader last, so the victim must not be
	// it when provision looks: the previous subtest's restarts can still
	// move the leadership, and a victim chosen from one server's answer
	// while it moves was restarted last (and the test then failed).
	leader := agreedMetaLeader(t, nodes)
	victim := nodes[0]
	if victim == leader {
		victim = nodes[1]
	}
	// max_file_store is not hot-reloadable: a restart.
	inv := copyInventory(t, tr, "max_file_store = \"3GB\"\n")
	enters := map[string]uint64{}
	for _, n := range nodes {
		_, enters[n] = unitTimes(t, n)
	}
	breakStore(t, tr, victim)
	out, errOut, code := tr.dcctl(t, "provision", inv, "--limit", strings.Join(nodes, ","), "--gate-timeout", "20s", "--json")
	if code != 1 {
		t.Fatalf("provision with %s unable to come back: exit %d, want 1\n%s%s", victim, code, out, errOut)
	}
	var r recapJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("recap: %v\n%s", err, out)
	}
	for _, h := range r.Hosts {
		switch {
		case h.Node == victim:
			t.Logf("recap of %s: %s: %s", victim, h.Status, h.Error)
			if h.Status != "failed" || !strings.Contains(h.Error, victim) || !strings.Contains(h.Error, "Can't start JetStream") {
				t.Errorf("%s: %s %q, want failed, naming it, with the server's own log", h.Node, h.Status, h.Error)
			}
		case h.Node != victim && slices.Contains(nodes, h.Node):
			if h.Status != "failed" || !strings.Contains(h.Error, "rollout of cluster US stopped at "+victim) {
				t.Errorf("%s: %s %q, want failed: not restarted, the rollout stopped at %s", h.Node, h.Status, h.Error, victim)
			}
		}
	}
	for _, n := range nodes {
		_, e := unitTimes(t, n)
		switch {
		case n == victim && e == enters[n]:
			t.Errorf("%s was not restarted at all", n)
		case n != victim && e != enters[n]:
			t.Errorf("%s was restarted after %s failed to come back", n, victim)
		}
	}
}

// agreedMetaLeader waits until every node names the same meta leader in
// three reads in a row, a second apart: a leader that has just been
// elected or is about to move shows as disagreement or a change.
func agreedMetaLeader(t *testing.T, nodes []string) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last string
	var lastErr error
	same := 0
	for time.Now().Before(deadline) {
		seen := ""
		agreed := true
		for _, n := range nodes {
			l, err := metaLeaderSeenBy(hostAddr(t, n), natsHTTPPort)
			if err != nil || l == "" || (seen != "" && l != seen) {
				agreed, lastErr = false, err
				break
			}
			seen = l
		}
		switch {
		case !agreed:
			same = 0
		case seen == last:
			same++
		default:
			last, same = seen, 1
		}
		if same >= 3 {
			return last
		}
		time.Sleep(time.Second) // pace of the reads, not a wait for an event
	}
	t.Fatalf("nodes %v did not agree on one meta leader for 3 s within 90 s (last %q, %v)", nodes, last, lastErr)
	return ""
}
