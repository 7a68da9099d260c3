package provision

import (
	"fmt"
	"strings"
)

// fixModes sets the mode and owner of files whose content is right.
type fixModes struct{}

func (fixModes) Title() string { return "fix mode and owner of files" }

func (fixModes) ShouldRun(p *HostPlan) bool {
	for _, fc := range p.Files {
		if fc.ModeOnly {
			return true
		}
	}
	return false
}

func (fixModes) Script(h *hostRun) string {
	var cmds []string
	for _, fc := range h.p.Files {
		if f := fc.File; fc.ModeOnly {
			cmds = append(cmds, fmt.Sprintf("chown %s:%s %s && chmod %o %s", shellQuote(f.Owner), shellQuote(f.Group), shellQuote(f.Path), f.Mode, shellQuote(f.Path)))
		}
	}
	return strings.Join(cmds, " &&\n")
}

func (fixModes) Done(h *hostRun, _ string) {
	for _, fc := range h.p.Files {
		if fc.ModeOnly {
			h.say("fixed mode/owner of " + fc.File.Path)
		}
	}
}
