package provision

import (
	"context"
	"errors"
	"strings"
	"sync"
)

// sideBySide runs lists of phases at the same time on one host, each list
// as runPhases runs it (its scripters batched, in order): the binary's
// upload, the longest step of a fresh host, goes on while the prepare
// script and the small files take their turns. The first list to fail
// stops the others (their uploads are cut short; a temporary file left
// behind is the next run's to remove) and its error is the phase's.
type sideBySide [][]phase

func (s sideBySide) Title() string {
	var titles []string
	for _, list := range s {
		for _, ph := range list {
			titles = append(titles, ph.Title())
		}
	}
	return "side by side: " + strings.Join(titles, " | ")
}

func (s sideBySide) ShouldRun(p *HostPlan) bool {
	for _, list := range s {
		for _, ph := range list {
			if ph.ShouldRun(p) {
				return true
			}
		}
	}
	return false
}

func (s sideBySide) Run(ctx context.Context, h *hostRun) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errs := make([]error, len(s))
	var wg sync.WaitGroup
	for i, list := range s {
		wg.Go(func() {
			if errs[i] = runPhases(ctx, h, list); errs[i] != nil {
				cancel(errs[i])
			}
		})
	}
	wg.Wait()
	// The cause, not a list that only stopped because another failed.
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		for _, err := range errs {
			if err == cause {
				return err
			}
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
