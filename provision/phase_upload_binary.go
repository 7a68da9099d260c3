package provision

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"time"

	"github.com/dcctl/dcctl/remote"
)

// uploadBinary streams the local nats-server binary to its temporary name
// beside the installed one. verifyUploads checks it on the host, checkBinary
// runs it and installFiles renames it. An early one goes beside the prepare
// script (sideBySide), which it can when the script has nothing to do for
// it: the binary's directory is there and no leftover of it is to be
// removed; otherwise the upload follows the script.
type uploadBinary struct{ early bool }

func (uploadBinary) Title() string { return "upload the nats-server binary" }
func (u uploadBinary) ShouldRun(p *HostPlan) bool {
	b := stagedBinary(p)
	return b != nil && u.early == binaryDirReady(p, b.File.Path)
}

// binaryDirReady says whether the binary at bin can be uploaded before the
// prepare script ran: its directory exists and is not one the script
// creates or fixes, and the script removes no leftover of it.
func binaryDirReady(p *HostPlan, bin string) bool {
	dir := path.Dir(bin)
	if slices.Contains(p.Parents, dir) || slices.Contains(p.CleanTemp, bin) {
		return false
	}
	for _, d := range p.Dirs {
		if d.Path == dir {
			return false
		}
	}
	return true
}

func (uploadBinary) Run(ctx context.Context, h *hostRun) error {
	f := stagedBinary(h.p).File
	content, err := h.s.binaryContent(f.SHA256)
	if err != nil {
		return err
	}
	var progress func(int64)
	if h.upload != nil {
		total, node := int64(len(content)), h.node()
		progress = func(n int64) { h.upload(node, n, total) }
	}
	t0 := time.Now()
	// Hashed: the session hashed these bytes once for every host.
	rf := remote.File{Path: f.Path, Mode: os.FileMode(f.Mode), Owner: f.Owner, Group: f.Group, Content: bytes.NewReader(content),
		SHA256: f.SHA256, Hashed: true, Size: int64(len(content))}
	if err := h.stage(ctx, rf, progress); err != nil {
		return fmt.Errorf("upload nats-server binary to %s: %w", f.Path, err)
	}
	h.binarySize, h.binaryTook = int64(len(content)), time.Since(t0)
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
