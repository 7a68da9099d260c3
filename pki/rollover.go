package pki

import (
	"bytes"
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

// A move to a new CA keeps both CAs trusted while the servers change over,
// in stages recorded in rotation.json. Each CA lives in its own pair of
// files, so every stage is what the files say, and provision renders the
// same trust as the runbook at any point:
//
//	stage          ca.pem   ca-next.pem  ca-previous.pem  servers trust
//	trust-both     old      new          -                old and new
//	new-ca-issues  new      -            old              old and new
//	drop-old       new      -            old (retiring)   new
//
// At the end the old CA's files move to retired/ and rotation.json goes.
// ca-bundle.pem holds what the servers trust, for clients, from the first
// stage on (and the new CA alone at the end, so that clients given it
// during the move keep working).
const (
	NextCAFile        = "ca-next.pem"
	NextCAKeyFile     = "ca-next-key.pem"
	PreviousCAFile    = "ca-previous.pem"
	PreviousCAKeyFile = "ca-previous-key.pem"
	BundleFile        = "ca-bundle.pem"
	RetiredDir        = "retired"
)

// Stage is where a rotation is.
type Stage string

const (
	StageRenew       Stage = ""              // new certificates from the same CA
	StageTrustBoth   Stage = "trust-both"    // the new CA created; every server to trust both
	StageNewCAIssues Stage = "new-ca-issues" // the new CA issues; every node to get a certificate from it
	StageDropOld     Stage = "drop-old"      // every server to trust the new CA alone
)

// BundlePath is the file of every CA the servers trust during (and after)
// a move to a new CA: what clients should verify the servers with.
func BundlePath(inventoryFile string) string { return filepath.Join(Dir(inventoryFile), BundleFile) }

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// loadRollover reads the CAs of a move to a new CA under way. Called by
// Load once the CA in ca.pem is read; a promotion interrupted between
// rotation.json saying new-ca-issues and ca-next.pem's removal reads the
// new CA from ca-next.pem (ca.pem may be half written).
func (m *Material) loadRollover() error {
	rot, err := m.Rotation()
	if err != nil || rot == nil {
		return err
	}
	m.rot = rot
	switch rot.Stage {
	case StageRenew:
		return nil
	case StageTrustBoth:
		next, err := loadCA(m.dir, NextCAFile, NextCAKeyFile)
		if err == nil && next == nil {
			err = fmt.Errorf("%s says stage %s, but %s is missing: restore it from a backup", RotationFile, rot.Stage, NextCAFile)
		}
		m.Next = next
		return err
	case StageNewCAIssues, StageDropOld:
		prev, err := loadCA(m.dir, PreviousCAFile, PreviousCAKeyFile)
		if err == nil && prev == nil {
			err = fmt.Errorf("%s says stage %s, but %s is missing: restore it from a backup", RotationFile, rot.Stage, PreviousCAFile)
		}
		if err != nil {
			return err
		}
		m.Previous = prev
		next, err := loadCA(m.dir, NextCAFile, NextCAKeyFile)
		if err != nil {
			return err
		}
		if next != nil {
			m.CA, m.promoting = next, true
		}
		return nil
	}
	return fmt.Errorf("%s: unknown stage %q", filepath.Join(m.dir, RotationFile), rot.Stage)
}

// loadCAs reads ca.pem, unless an interrupted promotion means the new CA
// is to be read from ca-next.pem, then the rollover's other CA.
func (m *Material) loadCAs() error {
	rot, err := m.Rotation()
	if err != nil {
		return err
	}
	if rot == nil || (rot.Stage != StageNewCAIssues && rot.Stage != StageDropOld) || !fileExists(filepath.Join(m.dir, NextCAFile)) {
		if m.CA, err = loadCA(m.dir, CAFile, CAKeyFile); err != nil || m.CA == nil {
			return err
		}
	}
	return m.loadRollover()
}

// Stage is the rotation's stage, and whether one is under way.
func (m *Material) Stage() (Stage, bool) {
	if m.rot == nil {
		return "", false
	}
	return m.rot.Stage, true
}

// Trust is every CA certificate the servers are to trust now (PEM), the
// oldest first, so that the same set reads the same whichever CA issues.
func (m *Material) Trust() []byte {
	cas := []*CA{m.CA}
	st, _ := m.Stage()
	switch st {
	case StageTrustBoth:
		cas = append(cas, m.Next)
	case StageNewCAIssues:
		cas = append(cas, m.Previous)
	}
	sort.SliceStable(cas, func(i, j int) bool {
		if !cas[i].Cert.NotBefore.Equal(cas[j].Cert.NotBefore) {
			return cas[i].Cert.NotBefore.Before(cas[j].Cert.NotBefore)
		}
		return cas[i].Cert.SerialNumber.Cmp(cas[j].Cert.SerialNumber) < 0
	})
	var b bytes.Buffer
	for _, ca := range cas {
		b.Write(ca.CertPEM)
		if !bytes.HasSuffix(ca.CertPEM, []byte("\n")) {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// BeginRollover creates the new CA and records stage trust-both: written
// at once (the new CA's key first, rotation.json last, then the bundle).
func (m *Material) BeginRollover(inv *inventory.Inventory, now time.Time) error {
	if err := m.rollable(); err != nil {
		return err
	}
	if m.rot != nil {
		return fmt.Errorf("a rotation is under way (stage %q)", m.rot.Stage)
	}
	next, err := NewCA(filepath.Base(strings.TrimSuffix(inv.File, ".toml"))+" "+now.UTC().Format(time.DateOnly), now)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(m.dir, NextCAKeyFile), next.KeyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(m.dir, NextCAFile), next.CertPEM, 0o644); err != nil {
		return err
	}
	m.Next = next
	return m.setStage(&Rotation{Started: now.UTC().Truncate(time.Second), Stage: StageTrustBoth})
}

// Promote makes the new CA the one that issues, the old one staying
// trusted (stage new-ca-issues). Each file is written whole; a promotion
// cut short is completed by the next call (Load reads it consistently
// meanwhile).
func (m *Material) Promote() error {
	st, _ := m.Stage()
	switch {
	case st == StageTrustBoth:
		if err := writeFile(filepath.Join(m.dir, PreviousCAKeyFile), m.CA.KeyPEM, 0o600); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(m.dir, PreviousCAFile), m.CA.CertPEM, 0o644); err != nil {
			return err
		}
		m.Previous, m.CA, m.Next = m.CA, m.Next, nil
		if err := m.setStage(&Rotation{Started: m.rot.Started, Stage: StageNewCAIssues}); err != nil {
			return err
		}
	case st == StageNewCAIssues && m.promoting:
	default:
		return nil
	}
	// The key first: Load reads the new CA from ca-next.pem until that is
	// removed, so a half-written pair here is never read.
	if err := writeFile(filepath.Join(m.dir, CAKeyFile), m.CA.KeyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(m.dir, CAFile), m.CA.CertPEM, 0o644); err != nil {
		return err
	}
	for _, f := range []string{NextCAFile, NextCAKeyFile} {
		if err := os.Remove(filepath.Join(m.dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("promote the new CA: %w", err)
		}
	}
	m.promoting = false
	return nil
}

// ReissueUnderCA gives node a certificate from the CA unless its own
// already is one (and still good); reports whether it did.
func (m *Material) ReissueUnderCA(n *inventory.Node, now time.Time) (bool, error) {
	if Reissue(m.nodes[n.Name], m.CA, NamesFor(n), now) == "" {
		return false, nil
	}
	return true, m.Renew(n, now)
}

// FromCA reports whether node's certificate chains to the CA that issues.
func (m *Material) FromCA(node string, now time.Time) bool {
	nc := m.nodes[node]
	return nc != nil && verify(nc.Cert, m.CA.Cert, now) == nil
}

// DropOld records that the servers are to trust the new CA alone.
func (m *Material) DropOld() error {
	if st, _ := m.Stage(); st != StageNewCAIssues {
		return nil
	}
	if m.promoting {
		return errors.New("the promotion of the new CA is not complete: run rotate-certs --finish")
	}
	return m.setStage(&Rotation{Started: m.rot.Started, Stage: StageDropOld})
}

// Retire ends a move to a new CA: the old CA's certificate and key move to
// retired/ (never deleted: a backup of what signed the old certificates),
// the bundle holds the new CA alone, rotation.json goes. It returns where
// the old CA's files went.
func (m *Material) Retire() ([]string, error) {
	if st, _ := m.Stage(); st != StageDropOld {
		return nil, nil
	}
	dir := filepath.Join(m.dir, RetiredDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("retire the old CA: %w", err)
	}
	base := "ca-" + m.Previous.Cert.NotBefore.UTC().Format("20060102") + "-" + strings.ToLower(strings.ReplaceAll(CertFingerprint(m.Previous.Cert), ":", "")[:12])
	var moved []string // the certificate, then the key
	for _, f := range [][2]string{{PreviousCAFile, base + ".pem"}, {PreviousCAKeyFile, base + "-key.pem"}} {
		dst := filepath.Join(dir, f[1])
		if err := os.Rename(filepath.Join(m.dir, f[0]), dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("retire the old CA: %w", err)
		}
		moved = append(moved, dst)
	}
	m.Previous, m.rot = nil, nil
	if err := writeFile(filepath.Join(m.dir, BundleFile), m.Trust(), 0o644); err != nil {
		return nil, err
	}
	return moved, m.EndRotation()
}

// setStage records rot and writes the bundle the servers now trust.
func (m *Material) setStage(rot *Rotation) error {
	if err := writeRotation(m.dir, rot); err != nil {
		return err
	}
	m.rot = rot
	return writeFile(filepath.Join(m.dir, BundleFile), m.Trust(), 0o644)
}

// rollable refuses material dcctl cannot rotate.
func (m *Material) rollable() error {
	switch {
	case m.operator:
		return errors.New("the CA is the operator's (tls.ca_file): dcctl issues no certificate from it")
	case m.CA == nil:
		return errors.New("no CA in " + m.dir)
	}
	return nil
}

// Promoted reports whether no promotion of the new CA is left half done.
func (m *Material) Promoted() bool { return !m.promoting }
