package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dcctl/dcctl/inventory"
)

// File names within the TLS directory.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca-key.pem"
)

// Dir is the TLS directory beside the inventory:
// inventory.toml -> inventory.tls/.
func Dir(inventoryFile string) string {
	return strings.TrimSuffix(inventoryFile, ".toml") + ".tls"
}

// CAPath is the CA certificate in the TLS directory: what clients verify
// the servers with.
func CAPath(inventoryFile string) string { return filepath.Join(Dir(inventoryFile), CAFile) }

func nodeFiles(dir, node string) (cert, key string) {
	return filepath.Join(dir, node+".pem"), filepath.Join(dir, node+"-key.pem")
}

// Material is the deployment's CA and node certificates as read from the
// TLS directory, plus what Prepare created or issued in memory.
type Material struct {
	dir   string
	CA    *CA // nil: the directory has no CA (yet); the one that issues
	nodes map[string]*NodeCert

	// During a move to a new CA (rollover.go): the new CA before it
	// issues, the old one after.
	Next, Previous *CA
	rot            *Rotation
	promoting      bool

	createdCA bool
	issued    map[string]string // node -> why it got a new certificate
	operator  bool              // the operator's CA and certificates: never created or issued here
}

// Load reads the TLS directory. It creates nothing: a missing CA is a nil
// Material.CA, for the caller to refuse when it needs one. Keys that others
// can read are refused, as for the secrets file.
func Load(inv *inventory.Inventory) (*Material, error) {
	if inv.TLS.OperatorCA() {
		return loadOperator(inv)
	}
	m := &Material{dir: Dir(inv.File), nodes: map[string]*NodeCert{}, issued: map[string]string{}}
	if !inv.TLS.Enabled {
		return m, nil
	}
	st, err := os.Stat(m.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("TLS directory: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("TLS directory %s is open to group or others (mode %04o): run chmod 700 %s", m.dir, st.Mode().Perm(), m.dir)
	}
	if err := m.loadCAs(); err != nil {
		return nil, err
	}
	if m.CA == nil {
		return m, nil
	}
	for _, n := range inv.Nodes {
		cp, kp := nodeFiles(m.dir, n.Name)
		c, err := readPrivate(cp, false)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		k, err := readPrivate(kp, true)
		if errors.Is(err, fs.ErrNotExist) {
			continue // issued again
		}
		if err != nil {
			return nil, err
		}
		nc, err := ParseNodeCert(c, k)
		if err != nil {
			return nil, fmt.Errorf("certificate of %s in %s: %w", n.Name, m.dir, err)
		}
		m.nodes[n.Name] = nc
	}
	return m, nil
}

// loadCA reads a CA's certificate and key from the TLS directory; nil when
// the certificate is not there.
func loadCA(dir, certFile, keyFile string) (*CA, error) {
	certPEM, err := readPrivate(filepath.Join(dir, certFile), false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	keyPEM, err := readPrivate(filepath.Join(dir, keyFile), true)
	if err != nil {
		return nil, fmt.Errorf("%w (the CA certificate %s is there, its key is not: restore %s from a backup)", err, certFile, keyFile)
	}
	ca, err := ParseCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA %s in %s: %w", certFile, dir, err)
	}
	return ca, nil
}

// readPrivate reads a file of the TLS directory, refusing a key others can
// read.
func readPrivate(path string, key bool) ([]byte, error) {
	if key {
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("TLS key: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("TLS key %s is readable by group or others (mode %04o): run chmod 600 %s", path, st.Mode().Perm(), path)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("TLS file: %w", err)
	}
	return data, nil
}

// Prepare is Load for provision: it creates a CA when there is none and
// issues a certificate to every node whose own is missing, does not cover
// its names, does not chain to the CA or ends within RenewBefore; all in
// memory until Save. A still-valid certificate is never issued again.
func Prepare(inv *inventory.Inventory, now time.Time) (*Material, error) {
	m, err := Load(inv)
	if err != nil || !inv.TLS.Enabled || m.operator {
		return m, err
	}
	if m.CA == nil {
		if m.CA, err = NewCA(filepath.Base(strings.TrimSuffix(inv.File, ".toml")), now); err != nil {
			return nil, err
		}
		m.createdCA = true
	}
	for _, n := range inv.Nodes {
		names := NamesFor(n)
		why := Reissue(m.nodes[n.Name], m.CA, names, now)
		if why == "" {
			continue
		}
		nc, err := m.CA.Issue(n.Name, names, now)
		if err != nil {
			return nil, err
		}
		m.nodes[n.Name] = nc
		m.issued[n.Name] = why
	}
	return m, nil
}

// CreatedCA reports whether Prepare created the CA (nothing on disk had one).
func (m *Material) CreatedCA() bool { return m.createdCA }

// Issued lists the nodes Prepare issued a certificate to, with why, sorted.
func (m *Material) Issued() []string {
	var out []string
	for n, why := range m.issued {
		out = append(out, n+": "+why)
	}
	sort.Strings(out)
	return out
}

// Dir is the TLS directory.
func (m *Material) Dir() string { return m.dir }

// Apply hands the material to the secrets, where rendering and NATS
// connections find it.
func (m *Material) Apply(sec *inventory.Secrets) {
	if m.CA == nil {
		return
	}
	trust := m.Trust()
	nodes := map[string]inventory.NodeTLS{}
	for name, nc := range m.nodes {
		nodes[name] = inventory.NodeTLS{CA: trust, Cert: nc.CertPEM, Key: nc.KeyPEM}
	}
	sec.SetTLS(trust, nodes)
}

// Save writes what Prepare created: the CA (once) and the new node
// certificates, keys mode 0600 in a 0700 directory, each through a
// temporary file.
func (m *Material) Save() error {
	if !m.createdCA && len(m.issued) == 0 {
		return nil
	}
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return fmt.Errorf("TLS directory: %w", err)
	}
	if m.createdCA {
		// The key first: a CA certificate without its key is refused by Load.
		if err := writeFile(filepath.Join(m.dir, CAKeyFile), m.CA.KeyPEM, 0o600); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(m.dir, CAFile), m.CA.CertPEM, 0o644); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(m.issued))
	for n := range m.issued {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		cp, kp := nodeFiles(m.dir, n)
		if err := writeFile(kp, m.nodes[n].KeyPEM, 0o600); err != nil {
			return err
		}
		if err := writeFile(cp, m.nodes[n].CertPEM, 0o644); err != nil {
			return err
		}
	}
	m.createdCA, m.issued = false, map[string]string{}
	return nil
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tls-*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Placeholder is throwaway material for rendering configs to read when the
// real CA is not at hand: a CA made up in memory, never written.
func Placeholder(inv *inventory.Inventory, now time.Time) (*Material, error) {
	m := &Material{nodes: map[string]*NodeCert{}, issued: map[string]string{}}
	if !inv.TLS.Enabled {
		return m, nil
	}
	ca, err := NewCA("placeholder (not the deployment's CA)", now)
	if err != nil {
		return nil, err
	}
	m.CA = ca
	for _, n := range inv.Nodes {
		nc, err := ca.Issue(n.Name, NamesFor(n), now)
		if err != nil {
			return nil, err
		}
		m.nodes[n.Name] = nc
	}
	return m, nil
}
