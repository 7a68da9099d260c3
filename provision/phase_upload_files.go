package provision

import (
	"context"
	"fmt"
	"sync"

	"github.com/dcctl/dcctl/remote"
)

// uploadFiles sends the configs and the unit to their temporary names
// beside their targets, all at once over the host's connection.
// verifyUploads, checkConfig and installFiles do the rest.
type uploadFiles struct{}

func (uploadFiles) Title() string              { return "upload configs and unit" }
func (uploadFiles) ShouldRun(p *HostPlan) bool { return len(stagedText(p)) > 0 }

func (uploadFiles) Run(ctx context.Context, h *hostRun) error {
	files := stagedText(h.p)
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, fc := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.stage(ctx, remoteFile(fc.File), nil); err != nil {
				errs[i] = fmt.Errorf("upload %s: %w", fc.File.Path, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// stagedText are the plan's configs and unit to install.
func stagedText(p *HostPlan) []FileChange {
	var out []FileChange
	for _, fc := range p.Files {
		if fc.File.Kind != "binary" && !fc.ModeOnly {
			out = append(out, fc)
		}
	}
	return out
}

// stagedTemps are the quoted temporary names of every file the plan
// uploads, for a script to remove when a check fails.
func stagedTemps(p *HostPlan) string {
	var q string
	for _, fc := range p.Files {
		if !fc.ModeOnly {
			q += " " + shellQuote(fc.File.Path+remote.TempSuffix)
		}
	}
	return q
}
