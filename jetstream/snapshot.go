package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/jsm.go"
	"github.com/nats-io/jsm.go/api"
)

// ErrMemoryStream is returned by Snapshot for a memory stream: nats-server
// cannot snapshot one (its memory store has no snapshot implementation).
var ErrMemoryStream = errors.New("memory streams cannot be snapshotted by nats-server; copy the messages to a file stream first (for example with a sourcing stream) and back that up")

// SnapshotInfo describes a snapshot on disk: the stream's configuration and
// state when it was taken, as written by the server beside the archive.
type SnapshotInfo struct {
	Dir      string   `json:"dir"`
	Stream   string   `json:"stream"`
	Subjects []string `json:"subjects"`
	Storage  string   `json:"storage"`
	Replicas int      `json:"replicas"`
	Msgs     uint64   `json:"messages"`
	Bytes    uint64   `json:"bytes"`
	FirstSeq uint64   `json:"first_seq"`
	LastSeq  uint64   `json:"last_seq"`
	// Consumers is the consumer count of the stream when it was snapshotted.
	Consumers int `json:"consumers"`
	// ArchiveBytes is the size of the compressed archive.
	ArchiveBytes int64 `json:"archive_bytes"`
}

// Snapshot writes a snapshot of stream, with its consumers, into dir (created
// if needed; refused if it already holds a finished snapshot). Memory streams
// are refused with ErrMemoryStream.
func (c *Conn) Snapshot(ctx context.Context, domain, stream, dir string) (*SnapshotInfo, error) {
	st, err := c.Stream(ctx, domain, stream)
	if err != nil {
		return nil, fmt.Errorf("snapshot of stream %s: %w", stream, err)
	}
	if st.Storage == "memory" {
		return nil, fmt.Errorf("snapshot of stream %s: %w", stream, ErrMemoryStream)
	}
	mgr, err := c.manager(domain)
	if err != nil {
		return nil, fmt.Errorf("snapshot of stream %s: %w", stream, err)
	}
	s, err := mgr.LoadStream(stream)
	if err != nil {
		return nil, fmt.Errorf("snapshot of stream %s: %w", stream, err)
	}
	if _, err := s.SnapshotToDirectory(ctx, dir, jsm.SnapshotConsumers()); err != nil {
		return nil, fmt.Errorf("snapshot of stream %s in domain %q to %s: %w", stream, domain, dir, err)
	}
	info, err := ReadSnapshot(dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot of stream %s: %w", stream, err)
	}
	return info, nil
}

// ReadSnapshot reads the description of the snapshot in dir and checks that
// its archive is present.
func ReadSnapshot(dir string) (*SnapshotInfo, error) {
	req, err := readSnapshotMeta(dir)
	if err != nil {
		return nil, err
	}
	data, err := jsm.SnapshotDataPath(dir)
	if err != nil {
		return nil, fmt.Errorf("read snapshot in %s: %w", dir, err)
	}
	fi, err := os.Stat(data)
	if err != nil {
		return nil, fmt.Errorf("read snapshot in %s: %w", dir, err)
	}
	return &SnapshotInfo{
		Dir:          dir,
		Stream:       req.Config.Name,
		Subjects:     req.Config.Subjects,
		Storage:      strings.ToLower(req.Config.Storage.String()),
		Replicas:     req.Config.Replicas,
		Msgs:         req.State.Msgs,
		Bytes:        req.State.Bytes,
		FirstSeq:     req.State.FirstSeq,
		LastSeq:      req.State.LastSeq,
		Consumers:    req.State.Consumers,
		ArchiveBytes: fi.Size(),
	}, nil
}

func readSnapshotMeta(dir string) (*api.JSApiStreamRestoreRequest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, jsm.SnapshotMetaFile))
	if err != nil {
		return nil, fmt.Errorf("read snapshot in %s: %w", dir, err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("read snapshot in %s: %s is empty (the backup did not finish)", dir, jsm.SnapshotMetaFile)
	}
	var req api.JSApiStreamRestoreRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, fmt.Errorf("read snapshot in %s: decode %s: %w", dir, jsm.SnapshotMetaFile, err)
	}
	if req.Config.Name == "" {
		return nil, fmt.Errorf("read snapshot in %s: %s names no stream", dir, jsm.SnapshotMetaFile)
	}
	return &req, nil
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Replicas overrides the replica count recorded in the snapshot; 0 keeps it.
	// Restoring as R1 and scaling up with SetReplicas avoids needing every
	// replica's server to take the whole upload at once.
	Replicas int
}

// Restore recreates the stream saved in dir in domain. It refuses when a
// stream of that name exists. It returns the restored stream's state.
func (c *Conn) Restore(ctx context.Context, domain, dir string, o RestoreOptions) (*StreamState, error) {
	req, err := readSnapshotMeta(dir)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	name := req.Config.Name
	switch _, err := c.Stream(ctx, domain, name); {
	case err == nil:
		return nil, fmt.Errorf("restore of stream %s in domain %q: a stream of that name exists; delete it or restore elsewhere", name, domain)
	case !IsErrCode(err, ErrCodeStreamNotFound):
		return nil, fmt.Errorf("restore of stream %s: %w", name, err)
	}
	cfg := req.Config
	if o.Replicas > 0 {
		cfg.Replicas = o.Replicas
	}
	mgr, err := c.manager(domain)
	if err != nil {
		return nil, fmt.Errorf("restore of stream %s: %w", name, err)
	}
	if _, _, err := mgr.RestoreSnapshotFromDirectory(ctx, name, dir, jsm.RestoreConfiguration(cfg)); err != nil {
		return nil, fmt.Errorf("restore of stream %s in domain %q from %s: %w", name, domain, dir, err)
	}
	st, err := c.Stream(ctx, domain, name)
	if err != nil {
		return nil, fmt.Errorf("restore of stream %s: read it back: %w", name, err)
	}
	return st, nil
}

// manager is a jsm.go manager on the application connection, addressed to
// domain, used where jsm.go saves implementing a chunked protocol
// (snapshot and restore).
func (c *Conn) manager(domain string) (*jsm.Manager, error) {
	nc, err := c.appConn()
	if err != nil {
		return nil, err
	}
	opts := []jsm.Option{jsm.WithTimeout(c.timeout)}
	if domain != "" {
		opts = append(opts, jsm.WithDomain(domain))
	}
	return jsm.New(nc, opts...)
}
