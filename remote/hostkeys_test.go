package remote

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/sshtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestUnknownHostRefusedThenAcceptedOnFirstUse(t *testing.T) {
	e := newTestEnv(t)
	cfg := e.config(e.srv)
	fp := ssh.FingerprintSHA256(e.srv.HostKeys[0].PublicKey())

	// known_hosts does not exist yet: every host is unknown.
	_, err := Dial(t.Context(), cfg)
	var unknown *UnknownHostKeyError
	if !errors.As(err, &unknown) {
		t.Fatalf("dial of an unknown host: got %v, want UnknownHostKeyError", err)
	}
	for _, want := range []string{cfg.Name, e.srv.Addr, "ssh-ed25519", fp, "--accept-new-host-keys"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := os.Stat(e.knownHosts); !os.IsNotExist(err) {
		t.Fatalf("a refused dial must not create known_hosts (stat: %v)", err)
	}

	var added []AddedHostKey
	cfg.HostKeyAdded = func(a AddedHostKey) { added = append(added, a) }
	cfg.AcceptNewHostKeys = true
	c, err := Dial(t.Context(), cfg)
	if err != nil {
		t.Fatalf("dial with AcceptNewHostKeys: %v", err)
	}
	c.Close()
	// The operator is told what was trusted, in OpenSSH's fingerprint form.
	want := AddedHostKey{Name: cfg.Name, Addr: e.srv.Addr, KeyType: "ssh-ed25519", Fingerprint: fp, KnownHosts: e.knownHosts}
	if len(added) != 1 || added[0] != want {
		t.Fatalf("added keys reported: %+v, want %+v", added, want)
	}
	if s := added[0].String(); !strings.Contains(s, "ssh-ed25519 SHA256:") || !strings.Contains(s, cfg.Name) || !strings.Contains(s, e.srv.Addr) {
		t.Errorf("report %q lacks the host, key type or fingerprint", s)
	}
	data, err := os.ReadFile(e.knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	wantLine := "[127.0.0.1]:" + itoa(e.srv.Port()) + " ssh-ed25519 "
	if !strings.HasPrefix(string(data), wantLine) || strings.Count(string(data), "\n") != 1 {
		t.Fatalf("known_hosts = %q, want one line starting %q", data, wantLine)
	}

	// Known now: the next run needs no flag, and adds nothing.
	cfg.AcceptNewHostKeys = false
	c, err = Dial(t.Context(), cfg)
	if err != nil {
		t.Fatalf("second dial without the flag: %v", err)
	}
	c.Close()
	if len(added) != 1 {
		t.Errorf("a known host was reported as added: %+v", added[1:])
	}
	again, _ := os.ReadFile(e.knownHosts)
	if string(again) != string(data) {
		t.Fatalf("known_hosts changed on a dial of a known host: %q -> %q", data, again)
	}
}

func TestChangedHostKeyIsFatalEvenWithAccept(t *testing.T) {
	e := newTestEnv(t)
	old := sshtest.NewEd25519Signer(t).PublicKey()
	sshtest.WriteKnownHost(t, e.knownHosts, e.srv.Addr, old)
	before, _ := os.ReadFile(e.knownHosts)

	cfg := e.config(e.srv)
	cfg.AcceptNewHostKeys = true
	_, err := Dial(t.Context(), cfg)
	var changed *HostKeyChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("dial with a changed key: got %v, want HostKeyChangedError", err)
	}
	for _, want := range []string{
		ssh.FingerprintSHA256(old),                           // expected
		ssh.FingerprintSHA256(e.srv.HostKeys[0].PublicKey()), // offered
		e.knownHosts + ":1", "ssh-keygen -R",
		// What to do after the removal, and where to verify the new key
		// (an outside audit followed the advice literally: the next run
		// then refused the host as unknown).
		"then run again with --accept-new-host-keys", "ssh-keygen -lf /etc/ssh/ssh_host_",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	after, _ := os.ReadFile(e.knownHosts)
	if string(after) != string(before) {
		t.Fatalf("known_hosts was modified after a changed key: %q", after)
	}
}

// A host with RSA and ed25519 keys, known by only one of them, must be asked
// for that one: otherwise it offers its preferred key and looks changed.
func TestHostKeyAlgorithmsFollowKnownHosts(t *testing.T) {
	rsaKey, edKey := sshtest.NewRSASigner(t), sshtest.NewEd25519Signer(t)
	for _, known := range []ssh.Signer{rsaKey, edKey} {
		t.Run(known.PublicKey().Type(), func(t *testing.T) {
			e := newTestEnv(t, edKey, rsaKey)
			sshtest.WriteKnownHost(t, e.knownHosts, e.srv.Addr, known.PublicKey())
			c, err := Dial(t.Context(), e.config(e.srv))
			if err != nil {
				t.Fatalf("dial a host known by its %s key: %v", known.PublicKey().Type(), err)
			}
			c.Close()
		})
	}
}

func TestAcceptAppendsAfterLastLineWithoutNewline(t *testing.T) {
	e := newTestEnv(t)
	other := sshtest.NewEd25519Signer(t).PublicKey()
	sshtest.WriteKnownHost(t, e.knownHosts, "192.0.2.1:22", other)
	data, _ := os.ReadFile(e.knownHosts)
	if err := os.WriteFile(e.knownHosts, []byte(strings.TrimRight(string(data), "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.config(e.srv)
	cfg.AcceptNewHostKeys = true
	c, err := Dial(t.Context(), cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()
	data, _ = os.ReadFile(e.knownHosts)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "192.0.2.1 ") || !strings.HasPrefix(lines[1], "[127.0.0.1]:") {
		t.Fatalf("known_hosts = %q, want the old line then the new one", data)
	}
	cfg.AcceptNewHostKeys = false
	if c, err := Dial(t.Context(), cfg); err != nil {
		t.Fatalf("dial after accept: %v", err)
	} else {
		c.Close()
	}
}

// ageFile sets a file's times back, as for a known_hosts written long before
// the run: a file modified within racyWindow is parsed for every check.
func ageFile(t *testing.T, path string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

// One run dials many hosts through one store: the file must be parsed once,
// not once or twice per dial.
func TestKnownHostsParsedOncePerRun(t *testing.T) {
	e := newTestEnv(t)
	e.trust(t, e.srv)
	ageFile(t, e.knownHosts)
	store := NewHostKeyStore(e.knownHosts)
	for i := 0; i < 5; i++ {
		cfg := e.config(e.srv)
		cfg.HostKeys = store
		c, err := Dial(t.Context(), cfg)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		c.Close()
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.parses != 1 {
		t.Fatalf("known_hosts parsed %d times for 5 dials, want 1", store.parses)
	}
}

// A key that another process adds to known_hosts between two dials of one
// store is seen by the second, and a key it replaces there is refused.
func TestKnownHostsChangedByAnotherProcessIsSeen(t *testing.T) {
	e := newTestEnv(t)
	second := sshtest.NewServer(t, e.clientKey.PublicKey())
	e.trust(t, e.srv)
	ageFile(t, e.knownHosts)
	store := NewHostKeyStore(e.knownHosts)
	dial := func(srv *sshtest.Server) error {
		cfg := e.config(srv)
		cfg.HostKeys = store
		c, err := Dial(t.Context(), cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(e.srv); err != nil {
		t.Fatalf("dial the known host: %v", err)
	}
	var unknown *UnknownHostKeyError
	if err := dial(second); !errors.As(err, &unknown) {
		t.Fatalf("dial of a host not yet in known_hosts: got %v, want UnknownHostKeyError", err)
	}
	sshtest.WriteKnownHost(t, e.knownHosts, second.Addr, second.HostKeys[0].PublicKey())
	ageFile(t, e.knownHosts)
	if err := dial(second); err != nil {
		t.Fatalf("dial of a host another process added to known_hosts: %v", err)
	}

	// Another process rewrites the file with a different key for the first
	// host, in place: same inode, same size (ed25519 lines are all as long).
	data, err := os.ReadFile(e.knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	oldLine := knownhosts.Line([]string{knownhosts.Normalize(e.srv.Addr)}, e.srv.HostKeys[0].PublicKey())
	newKey := sshtest.NewEd25519Signer(t).PublicKey()
	newLine := knownhosts.Line([]string{knownhosts.Normalize(e.srv.Addr)}, newKey)
	if !strings.Contains(string(data), oldLine) || len(oldLine) != len(newLine) {
		t.Fatalf("known_hosts %q does not hold %q as expected", data, oldLine)
	}
	if err := os.WriteFile(e.knownHosts, []byte(strings.Replace(string(data), oldLine, newLine, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	var changed *HostKeyChangedError
	err = dial(e.srv)
	if !errors.As(err, &changed) || !strings.Contains(err.Error(), ssh.FingerprintSHA256(newKey)) {
		t.Fatalf("dial after its key was replaced in known_hosts: got %v, want HostKeyChangedError naming %s", err, ssh.FingerprintSHA256(newKey))
	}
}
