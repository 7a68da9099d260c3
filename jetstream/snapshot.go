package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/jsm.go"
	"github.com/nats-io/jsm.go/api"
	"github.com/nats-io/nats-server/v2/server/archive"
	"github.com/nats-io/nats.go"
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
	// PlacementTags are the stream's placement tags: a restore keeps them
	// unless told otherwise, so they decide where it can land.
	PlacementTags []string `json:"placement_tags,omitempty"`
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
	attempts := 0
	// A consumer deleted while the server collects consumer states (an
	// application's ephemeral consumer going away) fails the snapshot with
	// "failed to get consumer state"; that is worth a few more tries.
	err = Poll(ctx, PollInterval, func() error {
		_, err := s.SnapshotToDirectory(ctx, dir, jsm.SnapshotConsumers())
		if err != nil && strings.Contains(err.Error(), "failed to get consumer state") && attempts < 2 {
			attempts++
			return err
		}
		return Stop(err)
	})
	if err != nil {
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
		Dir:           dir,
		Stream:        req.Config.Name,
		Subjects:      req.Config.Subjects,
		Storage:       strings.ToLower(req.Config.Storage.String()),
		Replicas:      req.Config.Replicas,
		Msgs:          req.State.Msgs,
		Bytes:         req.State.Bytes,
		FirstSeq:      req.State.FirstSeq,
		LastSeq:       req.State.LastSeq,
		Consumers:     req.State.Consumers,
		ArchiveBytes:  fi.Size(),
		PlacementTags: placementOf(req.Config.Placement),
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
	// replica's server to take in the whole archive at once.
	Replicas int
	// Metadata is added to the stream's configured metadata, in the same
	// request that creates it: a mark of who restored it that no other
	// stream can have by accident.
	Metadata map[string]string
	// PlacementTags, when set, replace the snapshot's placement tags: every
	// replica goes on a server carrying all of them (dc:<dc> places by DC).
	PlacementTags []string
	// Name, when set, is the restored stream's name instead of the
	// snapshot's. Only an archive in nats-server's own format (RenamableSnapshot)
	// restores under another name.
	Name string
}

// Restore recreates the stream saved in dir in domain. It refuses when a
// stream of that name exists. It returns the restored stream's state.
func (c *Conn) Restore(ctx context.Context, domain, dir string, o RestoreOptions) (*StreamState, error) {
	req, err := readSnapshotMeta(dir)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	name := req.Config.Name
	if o.Name != "" {
		name = o.Name
	}
	switch _, err := c.Stream(ctx, domain, name); {
	case err == nil:
		return nil, fmt.Errorf("restore of stream %s in domain %q: a stream of that name exists; delete it or restore elsewhere", name, domain)
	case !IsErrCode(err, ErrCodeStreamNotFound):
		return nil, fmt.Errorf("restore of stream %s: %w", name, err)
	}
	if err := c.sendRestore(ctx, domain, dir, o); err != nil {
		return nil, fmt.Errorf("restore of stream %s in domain %q from %s: %w", name, domain, dir, err)
	}
	st, err := c.Stream(ctx, domain, name)
	if err != nil {
		return nil, fmt.Errorf("restore of stream %s: read it back: %w", name, err)
	}
	return st, nil
}

// RenamableSnapshot reports whether the archive in dir can be restored under
// another stream name. nats-server from v2.15 writes its own archive format,
// which carries the messages but not the stream's name; older servers wrote a
// tar of the stream's store whose metadata names the stream, and their
// restore refuses any other name ("stream names do not match").
func RenamableSnapshot(dir string) (bool, error) {
	data, err := jsm.SnapshotDataPath(dir)
	if err != nil {
		return false, fmt.Errorf("read snapshot in %s: %w", dir, err)
	}
	f, err := os.Open(data)
	if err != nil {
		return false, fmt.Errorf("read snapshot in %s: %w", dir, err)
	}
	defer f.Close()
	magic := make([]byte, len(archive.MagicBytes))
	if _, err := io.ReadFull(s2.NewReader(f), magic); err != nil {
		return false, fmt.Errorf("read snapshot archive %s: %w", data, err)
	}
	return string(magic) == archive.MagicBytes, nil
}

// restoreChunk is the most we send per message; the server's max_payload
// may lower it.
const restoreChunk = 64 * 1024

// sendRestore runs the restore protocol: STREAM.RESTORE with the saved config and
// state names a subject, the archive goes there in acknowledged chunks, and
// an empty message ends it; the reply to that one is the stream-create
// result. jsm.go has this too, but it gives up on the first "no responders",
// which is what a chunk meets when the restoring server's subscription has
// not yet propagated to the server we are connected to (routinely so when
// connected through a leaf cluster), so we retry that case briefly.
func (c *Conn) sendRestore(ctx context.Context, domain, dir string, o RestoreOptions) error {
	raw, err := os.ReadFile(filepath.Join(dir, jsm.SnapshotMetaFile))
	if err != nil {
		return err
	}
	// Edit the saved request as a map so fields we do not model survive.
	var req map[string]json.RawMessage
	if err := json.Unmarshal(raw, &req); err != nil {
		return fmt.Errorf("decode %s: %w", jsm.SnapshotMetaFile, err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(req["config"], &cfg); err != nil {
		return fmt.Errorf("decode %s config: %w", jsm.SnapshotMetaFile, err)
	}
	if o.Replicas > 0 {
		cfg["num_replicas"] = o.Replicas
	}
	if len(o.PlacementTags) > 0 {
		withPlacementTags(cfg, o.PlacementTags)
	}
	if len(o.Metadata) > 0 {
		md, _ := cfg["metadata"].(map[string]any)
		if md == nil {
			md = map[string]any{}
		}
		for k, v := range o.Metadata {
			md[k] = v
		}
		cfg["metadata"] = md
	}
	if o.Name != "" {
		cfg["name"] = o.Name
	}
	name, _ := cfg["name"].(string)
	if req["config"], err = json.Marshal(cfg); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	dataPath, err := jsm.SnapshotDataPath(dir)
	if err != nil {
		return err
	}
	f, err := os.Open(dataPath)
	if err != nil {
		return err
	}
	defer f.Close()

	nc, err := c.appConn()
	if err != nil {
		return err
	}
	var resp struct {
		DeliverSubject string `json:"deliver_subject"`
	}
	if err := c.apiRequest(ctx, nc, apiPrefix(domain)+".STREAM.RESTORE."+name, req, &resp); err != nil {
		return err
	}
	if resp.DeliverSubject == "" {
		return errors.New("server named no subject to send the archive to")
	}
	size := restoreChunk
	if mp := int(nc.MaxPayload()); mp > 0 && mp < size {
		size = mp
	}
	buf := make([]byte, size)
	for sent := 0; ; {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			if err := c.sendChunk(ctx, nc, resp.DeliverSubject, buf[:n]); err != nil {
				return fmt.Errorf("send archive after %d bytes: %w", sent, err)
			}
			sent += n
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", dataPath, err)
		}
	}
	// The server rebuilds the stream before answering the end marker; that
	// can take long for a big stream, so only the caller's ctx bounds it
	// (an hour when it has no deadline).
	fctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	msg, err := nc.RequestWithContext(fctx, resp.DeliverSubject, nil)
	if err != nil {
		return fmt.Errorf("finish restore: %w", err)
	}
	var done struct {
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &done); err != nil {
		return fmt.Errorf("decode restore result: %w", err)
	}
	return done.Error.err()
}

// sendChunk sends one chunk and waits for its acknowledgement, retrying a
// "no responders" within the request timeout (see sendRestore).
func (c *Conn) sendChunk(ctx context.Context, nc *nats.Conn, subject string, chunk []byte) error {
	rctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return Poll(rctx, PollInterval, func() error {
		msg, err := nc.RequestWithContext(rctx, subject, chunk)
		if errors.Is(err, nats.ErrNoResponders) {
			return err
		}
		if err != nil {
			return Stop(err)
		}
		if len(msg.Data) > 0 {
			var r struct {
				Error *apiError `json:"error"`
			}
			if json.Unmarshal(msg.Data, &r) == nil && r.Error != nil {
				return Stop(r.Error.err())
			}
		}
		return nil
	})
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

func placementOf(p *api.Placement) []string {
	if p == nil {
		return nil
	}
	return p.Tags
}
