package remote

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/internal/sshtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// authorizedKey is key's "type base64" as known_hosts holds it.
func authorizedKey(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// hostCert is a host certificate of key signed by ca.
func hostCert(t *testing.T, key ssh.PublicKey, ca ssh.Signer) *ssh.Certificate {
	t.Helper()
	cert := &ssh.Certificate{Key: key, CertType: ssh.HostCert, ValidPrincipals: []string{"127.0.0.1"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	return cert
}

// sameAnswer fails unless got and want are the same knownhosts answer: both
// nil, the same KeyError (the same keys from the same lines) or the same
// other error.
func sameAnswer(t *testing.T, what string, got, want error) {
	t.Helper()
	var gk, wk *knownhosts.KeyError
	switch {
	case got == nil || want == nil:
		if got != want {
			t.Errorf("%s: got %v, knownhosts says %v", what, got, want)
		}
	case errors.As(want, &wk):
		if !errors.As(got, &gk) || len(gk.Want) != len(wk.Want) {
			t.Errorf("%s: got %v, knownhosts says %v", what, got, want)
			return
		}
		for i := range wk.Want {
			g, w := gk.Want[i], wk.Want[i]
			if g.Filename != w.Filename || g.Line != w.Line || string(g.Key.Marshal()) != string(w.Key.Marshal()) {
				t.Errorf("%s: key %d %s, knownhosts says %s", what, i, g.String(), w.String())
			}
		}
	default:
		if got == nil || got.Error() != want.Error() {
			t.Errorf("%s: got %v, knownhosts says %v", what, got, want)
		}
	}
}

// TestPlainKnownHostsAnswerAsKnownhosts: for a known_hosts file of plain
// lines (several names on a line, ports bracketed or not, IPv6, a host with
// keys of two types and two keys of one type, comments, blank lines, tabs),
// the store's index gives every host and key the answer knownhosts gives
// (accepted, unknown, or changed with the same lines), a host certificate
// included; files with other lines are left to knownhosts.
func TestPlainKnownHostsAnswerAsKnownhosts(t *testing.T) {
	ed1, ed2, ed3 := sshtest.NewEd25519Signer(t).PublicKey(), sshtest.NewEd25519Signer(t).PublicKey(), sshtest.NewEd25519Signer(t).PublicKey()
	rsa := sshtest.NewRSASigner(t).PublicKey()
	ca := sshtest.NewEd25519Signer(t)
	lines := []string{
		"# a comment",
		"[127.0.0.1]:2201 " + authorizedKey(ed1),
		"",
		"  web-1,192.0.2.7\t" + authorizedKey(ed2) + " a comment",
		"127.0.0.1:2202 " + authorizedKey(ed2),
		"[::1]:2203," + "[2001:db8::1]:22 " + authorizedKey(ed3),
		"[127.0.0.1]:2201 " + authorizedKey(rsa),
		"[127.0.0.1]:2201 " + authorizedKey(ed3),
		",db-1, " + authorizedKey(ed1),
		"web-1 " + authorizedKey(ed1),
	}
	addrs := []string{"127.0.0.1:2201", "127.0.0.1:2202", "[::1]:2203", "[2001:db8::1]:22", "web-1:22", "192.0.2.7:22",
		"db-1:22", "web-1:2222", "127.0.0.1:22", "[127.0.0.1]:2201", "no-port", ""}
	keys := []ssh.PublicKey{ed1, ed2, ed3, rsa, probeKey{}, hostCert(t, ed1, ca)}

	dir := t.TempDir()
	file := filepath.Join(dir, "known_hosts")
	files := map[string]bool{ // content: indexed
		strings.Join(lines, "\n") + "\n":                                                              true,
		strings.Join(lines, "\r\n"):                                                                   true,
		strings.Join(lines, "\n") + "\n@revoked * " + authorizedKey(ed2):                              false,
		strings.Join(lines, "\n") + "\n@cert-authority * " + authorizedKey(ca.PublicKey()):            false,
		strings.Join(lines, "\n") + "\n" + knownhosts.HashHostname("db-1") + " " + authorizedKey(ed3): false,
		strings.Join(lines, "\n") + "\n*.example,!x.example " + authorizedKey(ed3):                    false,
		strings.Join(lines, "\n") + "\n[127.0.0.1:2201 " + authorizedKey(ed3):                         false, // knownhosts skips it
		strings.Join(lines, "\n") + "\nweb-2 ssh-rsa " + strings.Fields(authorizedKey(ed3))[1]:        false,
	}
	remoteAddr := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 2202}
	for content, indexed := range files {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		ageFile(t, file)
		full, err := knownhosts.New(file)
		if err != nil {
			t.Fatal(err)
		}
		store := NewHostKeyStore(file)
		store.mu.Lock()
		check, err := store.load()
		plain := store.plain
		store.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		last := content[strings.LastIndex(strings.TrimRight(content, "\n"), "\n")+1:]
		if (plain != nil) != indexed {
			t.Errorf("file ending %q: indexed %v, want %v", last, plain != nil, indexed)
		}
		for _, a := range addrs {
			for _, k := range keys {
				what := fmt.Sprintf("file ending %q, %q, %s", last, a, k.Type())
				sameAnswer(t, what, check(a, remoteAddr, k), full(a, remoteAddr, k))
			}
		}
	}
}

// A known_hosts file of plain lines, dcctl's own, is indexed: each dial's
// two checks look up the host's lines instead of matching every line.
func TestPlainKnownHostsIndexed(t *testing.T) {
	e := newTestEnv(t)
	var kh strings.Builder
	for i := 0; i < 1000; i++ {
		kh.WriteString(knownhosts.Line([]string{fmt.Sprintf("192.0.2.%d:%d", i%250, 2000+i)}, e.clientKey.PublicKey()) + "\n")
	}
	if err := os.MkdirAll(filepath.Dir(e.knownHosts), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.knownHosts, []byte(kh.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	e.trust(t, e.srv)
	ageFile(t, e.knownHosts)
	store := NewHostKeyStore(e.knownHosts)
	cfg := e.config(e.srv)
	cfg.HostKeys = store
	c, err := Dial(t.Context(), cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()
	store.mu.Lock()
	defer store.mu.Unlock()
	if len(store.plain) != 1001 {
		t.Fatalf("index of %d addresses, want 1001", len(store.plain))
	}
}

// A key marked @revoked is refused even when a plain line names it for
// the host (the file is then left to knownhosts).
func TestRevokedHostKeyRefused(t *testing.T) {
	e := newTestEnv(t)
	e.trust(t, e.srv)
	f, err := os.OpenFile(e.knownHosts, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "@revoked * %s\n", authorizedKey(e.srv.HostKeys[0].PublicKey()))
	f.Close()
	_, err = Dial(t.Context(), e.config(e.srv))
	var revoked *RevokedHostKeyError
	if !errors.As(err, &revoked) || revoked.Revoked.Line != 2 {
		t.Fatalf("dial of a host whose key is revoked: got %v, want RevokedHostKeyError at line 2", err)
	}
}
