package pki

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/dcctl/dcctl/inventory"
)

// RotationFile records a certificate rotation under way in the TLS
// directory, so that a run interrupted halfway continues where it stopped
// instead of starting over, and provision renders from the same state.
const RotationFile = "rotation.json"

// Rotation is a certificate rotation under way.
type Rotation struct {
	// Started is when it began: a node whose certificate was issued
	// before is still to renew.
	Started time.Time `json:"started"`
	// Stage is where a move to a new CA is; empty for a renewal.
	Stage Stage `json:"stage,omitempty"`
	// Replaces holds, for a renewal, the fingerprint of each node's
	// certificate when it began: a node still showing that one is still to
	// renew. Started alone cannot tell (certificates count whole seconds,
	// so one issued in the second the renewal began looked renewed); it
	// serves for a record without Replaces (written by an older dcctl).
	Replaces map[string]string `json:"replaces,omitempty"`
}

// Rotation returns the rotation under way, or nil.
func (m *Material) Rotation() (*Rotation, error) {
	data, err := os.ReadFile(filepath.Join(m.dir, RotationFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rotation state: %w", err)
	}
	var r Rotation
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("rotation state %s: %w", filepath.Join(m.dir, RotationFile), err)
	}
	return &r, nil
}

// BeginRotation records a renewal starting at now, unless one is under
// way already (then it is kept: the run continues it).
func (m *Material) BeginRotation(now time.Time) (*Rotation, error) {
	if r, err := m.Rotation(); r != nil || err != nil {
		return r, err
	}
	r := &Rotation{Started: now.UTC().Truncate(time.Second), Replaces: map[string]string{}}
	for name, nc := range m.nodes {
		r.Replaces[name] = CertFingerprint(nc.Cert)
	}
	if err := writeRotation(m.dir, r); err != nil {
		return nil, err
	}
	m.rot = r
	return r, nil
}

func writeRotation(dir string, r *Rotation) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, RotationFile), append(data, '\n'), 0o600)
}

// EndRotation removes the record of the rotation: every node has its new
// certificate in use.
func (m *Material) EndRotation() error {
	if err := os.Remove(filepath.Join(m.dir, RotationFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("end the rotation: %w", err)
	}
	m.rot = nil
	return nil
}

// Renewed reports whether node has a certificate other than the one it had
// when r began.
func (m *Material) Renewed(node string, r *Rotation) bool {
	nc := m.nodes[node]
	if nc == nil {
		return false
	}
	if old, ok := r.Replaces[node]; ok {
		return CertFingerprint(nc.Cert) != old
	}
	// Certificates start an hour before they are issued (hosts' clocks
	// may lag).
	return !nc.Cert.NotBefore.Add(time.Hour).Before(r.Started)
}

// Renew issues node a new key and certificate from the CA, in memory
// until Save, whatever the state of its current one.
func (m *Material) Renew(n *inventory.Node, now time.Time) error {
	if err := m.rollable(); err != nil {
		return err
	}
	nc, err := m.CA.Issue(n.Name, NamesFor(n), now)
	if err != nil {
		return err
	}
	m.nodes[n.Name] = nc
	m.issued[n.Name] = "renewal"
	return nil
}

// Cert returns node's certificate, or nil.
func (m *Material) Cert(node string) *NodeCert { return m.nodes[node] }

// Operator reports whether the CA and certificates are the operator's.
func (m *Material) Operator() bool { return m.operator }
