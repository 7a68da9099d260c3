package provision

import (
	"strings"

	"github.com/dcctl/dcctl/remote"
	"github.com/dcctl/dcctl/words"
)

// cleanTemp removes the temporary files an interrupted run left beside
// their targets (facts found them).
type cleanTemp struct{}

func (cleanTemp) Title() string              { return "remove leftover temporary files" }
func (cleanTemp) ShouldRun(p *HostPlan) bool { return len(p.CleanTemp) > 0 }

func (cleanTemp) Script(h *hostRun) string {
	q := make([]string, len(h.p.CleanTemp))
	for i, t := range h.p.CleanTemp {
		q[i] = shellQuote(t + remote.TempSuffix)
	}
	return "rm -f -- " + strings.Join(q, " ")
}

func (cleanTemp) Done(h *hostRun, _ string) {
	h.say("removed " + words.Count(len(h.p.CleanTemp), "leftover temporary file") + " of an interrupted run")
}
