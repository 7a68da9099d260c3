package remote

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownhosts checks a host by matching every line of the file against it:
// a run of a thousand hosts checks each twice (algorithms, then the dial's
// callback), two million matches. Most known_hosts files dcctl reads hold
// only plain lines, one or more literal host names or addresses and a key,
// as dcctl itself appends them; for those, the lines a host matches are
// found by its address in a map. A file with any other line (a marker:
// @cert-authority, @revoked; a hashed name; a pattern with *, ? or !; a
// line knownhosts would skip as invalid) is left to knownhosts whole, as is
// a host certificate, so that what it accepts and refuses stays its own.

// hostAddr is a host and port as knownhosts compares them.
type hostAddr struct{ host, port string }

// plainIndex is the keys of a known_hosts file made only of plain lines, by
// address, each address's in the file's order.
type plainIndex map[hostAddr][]knownhosts.KnownKey

// indexPlain indexes the known_hosts file data (read from path); ok is
// false when a line is not plain.
func indexPlain(path string, data []byte) (idx plainIndex, ok bool) {
	idx = plainIndex{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := bytes.Trim(sc.Bytes(), " \t")
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		hosts, key, ok := plainLine(line)
		if !ok {
			return nil, false
		}
		for _, a := range hosts {
			idx[a] = append(idx[a], knownhosts.KnownKey{Key: key, Filename: path, Line: n})
		}
	}
	if sc.Err() != nil {
		return nil, false
	}
	return idx, true
}

// plainLine parses "hosts keytype base64-key [comment]" with literal hosts,
// a host without a port being on port 22, as knownhosts reads them.
func plainLine(line []byte) ([]hostAddr, ssh.PublicKey, bool) {
	words := strings.FieldsFunc(string(line), func(r rune) bool { return r == ' ' || r == '\t' })
	if len(words) < 3 || strings.ContainsAny(words[0], "@|*?!") {
		return nil, nil, false
	}
	blob, err := base64.StdEncoding.DecodeString(words[2])
	if err != nil {
		return nil, nil, false
	}
	key, err := ssh.ParsePublicKey(blob)
	if err != nil || key.Type() != words[1] {
		return nil, nil, false
	}
	var hosts []hostAddr
	for _, p := range strings.Split(words[0], ",") {
		if p == "" {
			continue
		}
		h, port, err := net.SplitHostPort(p)
		switch {
		case err == nil:
		case p[0] == '[':
			return nil, nil, false
		default:
			h, port = p, "22"
		}
		hosts = append(hosts, hostAddr{h, port})
	}
	return hosts, key, true
}

// callback is the host key callback of a store's parse: the index for plain
// keys when the file is plain, knownhosts (full) for the rest.
func (idx plainIndex) callback(full ssh.HostKeyCallback) ssh.HostKeyCallback {
	if idx == nil {
		return full
	}
	return func(address string, remote net.Addr, key ssh.PublicKey) error {
		if _, cert := key.(*ssh.Certificate); cert {
			return full(address, remote, key)
		}
		if address == "" {
			address = remote.String()
		}
		h, port, err := net.SplitHostPort(address)
		if err != nil {
			return full(address, remote, key) // its error
		}
		keyErr := &knownhosts.KeyError{}
		for _, k := range idx[hostAddr{h, port}] {
			keyErr.Want = append(keyErr.Want, k)
			if bytes.Equal(k.Key.Marshal(), key.Marshal()) {
				return nil
			}
		}
		return keyErr
	}
}
