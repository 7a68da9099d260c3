package remote

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyStore verifies host keys against one known_hosts file and, when
// asked to, appends keys of hosts seen for the first time. Share one store
// per file between parallel dials: its mutex serialises the check-append so
// that two dials never interleave their writes or miss each other's lines.
//
// The file is parsed once and kept: at a thousand hosts, parsing it for
// every dial cost more CPU than the dials' own work; a file of plain lines
// is also indexed by address (hostkeys_index.go). It is parsed again
// whenever it is not the file last parsed (its inode, size, modification or
// change time differ), so a key that another dcctl or the operator added or
// removed meanwhile is seen by the next check.
type HostKeyStore struct {
	path string
	mu   sync.Mutex

	check  ssh.HostKeyCallback // the parsed file; nil until the first load
	stamp  fileStamp           // of the file check was parsed from
	parses int                 // how often the file was parsed, for tests
	plain  plainIndex          // of the last parse, nil unless every line is plain (for tests)
}

// fileStamp tells one version of a file from another without reading it.
type fileStamp struct {
	exists           bool
	dev, ino         uint64
	size             int64
	mtimeNs, ctimeNs int64
}

func stampOf(st os.FileInfo) fileStamp {
	fs := fileStamp{exists: true, size: st.Size(), mtimeNs: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		fs.dev, fs.ino = uint64(sys.Dev), sys.Ino
		fs.ctimeNs = sys.Ctim.Nano()
	}
	return fs
}

// NewHostKeyStore returns a store for the known_hosts file at path. The file
// need not exist: a missing file is an empty one, created on the first accept.
func NewHostKeyStore(path string) *HostKeyStore {
	return &HostKeyStore{path: path}
}

// Path is the known_hosts file the store reads and appends to.
func (s *HostKeyStore) Path() string { return s.path }

// UnknownHostKeyError refuses a host that known_hosts does not list.
type UnknownHostKeyError struct {
	Name        string // node name from the inventory
	Addr        string // host:port dialled
	KeyType     string // e.g. ssh-ed25519
	Fingerprint string // OpenSSH form, SHA256:...
	KnownHosts  string // file consulted
}

func (e *UnknownHostKeyError) Error() string {
	return fmt.Sprintf("host key of %s (%s) is unknown: %s %s is not in %s; "+
		"check the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub) "+
		"and rerun with --accept-new-host-keys to trust it",
		e.Name, e.Addr, e.KeyType, e.Fingerprint, e.KnownHosts, keyFileStem(e.KeyType))
}

// AddedHostKey is a host key trusted on first use and appended to
// known_hosts. The operator sees each one, so that the fingerprints can be
// compared with the hosts' own (ssh-keygen -lf) after the fact.
type AddedHostKey struct {
	Name        string // node name
	Addr        string // host:port dialled
	KeyType     string // e.g. ssh-ed25519
	Fingerprint string // OpenSSH form, SHA256:...
	KnownHosts  string // file appended to
}

func (a AddedHostKey) String() string {
	return fmt.Sprintf("added host key of %s (%s) to %s: %s %s", a.Name, a.Addr, a.KnownHosts, a.KeyType, a.Fingerprint)
}

// KnownKey is one key that known_hosts holds for a host.
type KnownKey struct {
	KeyType     string
	Fingerprint string // SHA256:...
	File        string
	Line        int
}

func (k KnownKey) String() string {
	return fmt.Sprintf("%s %s (%s:%d)", k.KeyType, k.Fingerprint, k.File, k.Line)
}

// HostKeyChangedError refuses a host whose key differs from known_hosts. It is
// fatal even with AcceptNewHostKeys: trust on first use is not trust on change.
type HostKeyChangedError struct {
	Name               string
	Addr               string
	Expected           []KnownKey
	OfferedType        string
	OfferedFingerprint string
	KnownHosts         string
}

func (e *HostKeyChangedError) Error() string {
	want := make([]string, len(e.Expected))
	for i, k := range e.Expected {
		want[i] = k.String()
	}
	return fmt.Sprintf("HOST KEY CHANGED for %s (%s): known_hosts expects %s but the host offered %s %s; "+
		"this may be a man-in-the-middle attack, or the host was reinstalled. "+
		"Not connecting (--accept-new-host-keys never overrides a changed key). "+
		"If the change is expected, verify the new fingerprint on the host (%s), remove the old entry: ssh-keygen -R '%s' -f %s, "+
		"then run again with --accept-new-host-keys, which adds the key the host offers now and prints its fingerprint",
		e.Name, e.Addr, strings.Join(want, ", "), e.OfferedType, e.OfferedFingerprint,
		hostKeyFileCommand(e.OfferedType), knownhosts.Normalize(e.Addr), e.KnownHosts)
}

// hostKeyFileCommand is how to read a host key's fingerprint on the host
// itself, for the key type sshd offered: the only check of a new key that
// does not go through the network being questioned.
func hostKeyFileCommand(keyType string) string {
	t := "ed25519"
	switch {
	case strings.HasPrefix(keyType, "ecdsa-"):
		t = "ecdsa"
	case keyType == "ssh-rsa" || strings.HasPrefix(keyType, "rsa-"):
		t = "rsa"
	}
	return "ssh-keygen -lf /etc/ssh/ssh_host_" + t + "_key.pub"
}

// RevokedHostKeyError refuses a key marked @revoked in known_hosts.
type RevokedHostKeyError struct {
	Name, Addr, KeyType, Fingerprint string
	Revoked                          KnownKey
}

func (e *RevokedHostKeyError) Error() string {
	return fmt.Sprintf("host key of %s (%s) is revoked: %s %s is marked @revoked at %s:%d",
		e.Name, e.Addr, e.KeyType, e.Fingerprint, e.Revoked.File, e.Revoked.Line)
}

// callback returns the ssh.HostKeyCallback for one dial of node name; added,
// when set, is told of a key it trusts on first use.
func (s *HostKeyStore) callback(name string, acceptNew bool, added func(AddedHostKey)) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		check, err := s.load()
		if err != nil {
			return err
		}
		err = check(hostname, remote, key)
		var keyErr *knownhosts.KeyError
		var revErr *knownhosts.RevokedError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &revErr):
			return &RevokedHostKeyError{Name: name, Addr: hostname, KeyType: key.Type(),
				Fingerprint: ssh.FingerprintSHA256(key), Revoked: knownKey(revErr.Revoked)}
		case errors.As(err, &keyErr) && len(keyErr.Want) > 0:
			changed := &HostKeyChangedError{Name: name, Addr: hostname, OfferedType: key.Type(),
				OfferedFingerprint: ssh.FingerprintSHA256(key), KnownHosts: s.path}
			for _, k := range keyErr.Want {
				changed.Expected = append(changed.Expected, knownKey(k))
			}
			return changed
		case errors.As(err, &keyErr):
			if !acceptNew {
				return &UnknownHostKeyError{Name: name, Addr: hostname, KeyType: key.Type(),
					Fingerprint: ssh.FingerprintSHA256(key), KnownHosts: s.path}
			}
			if err := s.appendLocked(hostname, key); err != nil {
				return err
			}
			if added != nil {
				added(AddedHostKey{Name: name, Addr: hostname, KeyType: key.Type(),
					Fingerprint: ssh.FingerprintSHA256(key), KnownHosts: s.path})
			}
			return nil
		default:
			return fmt.Errorf("check host key of %s (%s) against %s: %w", name, hostname, s.path, err)
		}
	}
}

// algorithms lists the host key algorithms to ask addr for, so that a host
// known by, say, its ed25519 key is asked for that one and not for an RSA key
// that would look like a changed key. Nil (the library's defaults) when the
// host is not known yet.
func (s *HostKeyStore) algorithms(addr string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	check, err := s.load()
	if err != nil {
		return nil, err
	}
	// A probe key matches no line, so knownhosts answers with every key it
	// holds for addr: the only way its API lists them.
	err = check(addr, &net.TCPAddr{IP: net.IPv4zero}, probeKey{})
	var keyErr *knownhosts.KeyError
	if !errors.As(err, &keyErr) {
		return nil, nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range keyErr.Want {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos, nil
}

// load returns the checker of the known_hosts file as it is now: the one
// parsed before if the file has not changed since, else the file parsed
// afresh, so that keys appended by a parallel dial (or another dcctl) are
// seen. Callers hold s.mu.
func (s *HostKeyStore) load() (ssh.HostKeyCallback, error) {
	var now fileStamp
	st, err := os.Stat(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// no file yet: no host is known
	case err != nil:
		return nil, fmt.Errorf("read known_hosts %s: %w", s.path, err)
	default:
		now = stampOf(st)
	}
	if s.check != nil && now == s.stamp {
		return s.check, nil
	}
	var cb ssh.HostKeyCallback
	plain := plainIndex{}
	if now.exists {
		var data []byte
		if data, err = os.ReadFile(s.path); err == nil {
			plain, _ = indexPlain(s.path, data)
			cb, err = knownhosts.New(s.path)
		}
	} else {
		cb, err = knownhosts.New()
	}
	if err != nil {
		return nil, fmt.Errorf("read known_hosts %s: %w", s.path, err)
	}
	s.parses++
	s.plain = plain
	cb = plain.callback(cb)
	// The stamp taken before the parse: a write during the parse leaves the
	// file with another stamp, so the next check parses it again. A file
	// modified within the last racyWindow is not kept: file times advance
	// in clock ticks, so a rewrite of the same size in the same tick would
	// leave the stamp as it was.
	s.check, s.stamp = nil, fileStamp{}
	if !now.exists || time.Since(st.ModTime()) > racyWindow {
		s.check, s.stamp = cb, now
	}
	return cb, nil
}

// racyWindow bounds how coarse a file system's timestamps may be for the
// stamp to tell two versions of known_hosts apart.
const racyWindow = 2 * time.Second

// appendLocked records key for hostname (as dialled, host:port) in OpenSSH's
// format: "[host]:port" for a port other than 22. Callers hold s.mu.
func (s *HostKeyStore) appendLocked(hostname string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("create directory for known_hosts %s: %w", s.path, err)
	}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open known_hosts %s to add %s: %w", s.path, hostname, err)
	}
	defer f.Close()
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n"
	// A file whose last line lacks its newline would glue our line onto it.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err != nil && err != io.EOF {
			return fmt.Errorf("read known_hosts %s: %w", s.path, err)
		}
		if last[0] != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		return fmt.Errorf("add %s to known_hosts %s: %w", hostname, s.path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("add %s to known_hosts %s: %w", hostname, s.path, err)
	}
	// Its stamp would show the change anyway; forgetting the parse does not
	// depend on the clock's resolution.
	s.check = nil
	return nil
}

func knownKey(k knownhosts.KnownKey) KnownKey {
	return KnownKey{KeyType: k.Key.Type(), Fingerprint: ssh.FingerprintSHA256(k.Key), File: k.Filename, Line: k.Line}
}

// algorithmsFor maps a known_hosts key type to the algorithms that prove
// possession of it: an RSA key signs with SHA-2 (or legacy SHA-1).
func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// keyFileStem names the host key file sshd keeps for a key type, for the hint
// in UnknownHostKeyError.
func keyFileStem(keyType string) string {
	switch {
	case keyType == ssh.KeyAlgoED25519:
		return "ed25519"
	case strings.HasPrefix(keyType, "ecdsa-"):
		return "ecdsa"
	case keyType == ssh.KeyAlgoRSA:
		return "rsa"
	default:
		return "*"
	}
}

// probeKey is a public key no known_hosts line can hold; see algorithms.
type probeKey struct{}

func (probeKey) Type() string                        { return "dcctl-probe@invalid" }
func (probeKey) Marshal() []byte                     { return []byte("dcctl-probe@invalid") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key verifies nothing") }
