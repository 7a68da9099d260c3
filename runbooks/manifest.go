package runbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/dcctl/dcctl/jetstream"
)

// ManifestFile is dcctl's description of a backup, beside the archive and
// the backup.json nats-server's snapshot protocol writes.
const ManifestFile = "dcctl-manifest.json"

// Manifest says what a backup holds and how to prove a restore is complete.
type Manifest struct {
	Format int    `json:"format"`
	Stream string `json:"stream"`
	// Account is the JetStream account the stream was backed up from; ""
	// in a manifest of a dcctl that did not record it.
	Account      string    `json:"source_account,omitempty"`
	Domain       string    `json:"source_domain"`
	Created      time.Time `json:"created"`
	DcctlVersion string    `json:"dcctl_version"`
	Subjects     []string  `json:"subjects"`
	Storage      string    `json:"storage"`
	Replicas     int       `json:"replicas"`
	Consumers    int       `json:"consumers"`
	// Baseline is the stream's counters and content digest when it was
	// snapshotted: a restore must reproduce it exactly.
	Baseline jetstream.Baseline `json:"baseline"`
	// Archive is the archive's file name and sha256, so a damaged or
	// swapped archive is caught before restoring it.
	Archive       string `json:"archive"`
	ArchiveSHA256 string `json:"archive_sha256"`
	ArchiveBytes  int64  `json:"archive_bytes"`
}

// ReadManifest reads dir's manifest and checks it against the snapshot
// files: the archive's sha256 and the state the server recorded.
func ReadManifest(dir string) (*Manifest, *jetstream.SnapshotInfo, error) {
	mp, err := readManifestFile(dir)
	if err != nil {
		return nil, nil, err
	}
	m := *mp
	info, err := jetstream.ReadSnapshot(dir)
	if err != nil {
		return nil, nil, err
	}
	sum, _, err := fileSHA256(filepath.Join(dir, m.Archive))
	if err != nil {
		return nil, nil, fmt.Errorf("backup in %s: %w", dir, err)
	}
	if sum != m.ArchiveSHA256 {
		return nil, nil, fmt.Errorf("backup in %s: archive %s has sha256 %s, the manifest says %s: the archive is damaged or not this backup's", dir, m.Archive, sum, m.ArchiveSHA256)
	}
	if info.Stream != m.Stream || info.Msgs != m.Baseline.Msgs || info.FirstSeq != m.Baseline.FirstSeq || info.LastSeq != m.Baseline.LastSeq {
		return nil, nil, fmt.Errorf("backup in %s: the snapshot holds stream %s with %d messages (%d..%d), the manifest says %s with %d (%d..%d)",
			dir, info.Stream, info.Msgs, info.FirstSeq, info.LastSeq, m.Stream, m.Baseline.Msgs, m.Baseline.FirstSeq, m.Baseline.LastSeq)
	}
	return &m, info, nil
}

// readManifestFile reads dir's manifest alone, without the archive.
func readManifestFile(dir string) (*Manifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s has no %s: not a dcctl backup, or the backup did not finish", dir, ManifestFile)
		}
		return nil, fmt.Errorf("read backup manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("read backup manifest %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.Format != 1 {
		return nil, fmt.Errorf("backup manifest in %s has format %d; this dcctl reads format 1", dir, m.Format)
	}
	return &m, nil
}

func writeManifest(dir string, m *Manifest) error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ManifestFile+".tmp")
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o640); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	// Rename last: a manifest present means the backup is complete.
	if err := os.Rename(tmp, filepath.Join(dir, ManifestFile)); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
