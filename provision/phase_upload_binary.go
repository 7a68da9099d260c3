package provision

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/dcctl/dcctl/remote"
)

// uploadBinary streams the local nats-server binary to its temporary name
// beside the installed one. verifyUploads checks it on the host, checkBinary
// runs it and installFiles renames it.
type uploadBinary struct{}

func (uploadBinary) Title() string              { return "upload the nats-server binary" }
func (uploadBinary) ShouldRun(p *HostPlan) bool { return stagedBinary(p) != nil }

func (uploadBinary) Run(ctx context.Context, h *hostRun) error {
	f := stagedBinary(h.p).File
	local := h.s.Inv.NATS.Binary
	fh, err := os.Open(local)
	if err != nil {
		return fmt.Errorf("open nats.binary: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("open nats.binary: %w", err)
	}
	var progress func(int64)
	if h.upload != nil {
		total, node := st.Size(), h.node()
		progress = func(n int64) { h.upload(node, n, total) }
	}
	t0 := time.Now()
	rf := remote.File{Path: f.Path, Mode: os.FileMode(f.Mode), Owner: f.Owner, Group: f.Group, Content: fh, SHA256: f.SHA256, Size: st.Size(), Stage: true}
	if err := h.c.Put(ctx, rf, progress); err != nil {
		return fmt.Errorf("upload nats-server binary to %s: %w", f.Path, err)
	}
	h.binarySize, h.binaryTook = st.Size(), time.Since(t0)
	return nil
}

// stagedBinary is the plan's binary to install, or nil.
func stagedBinary(p *HostPlan) *FileChange {
	for i, fc := range p.Files {
		if fc.File.Kind == "binary" && !fc.ModeOnly {
			return &p.Files[i]
		}
	}
	return nil
}
