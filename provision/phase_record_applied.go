package provision

import (
	"fmt"

	"github.com/dcctl/dcctl/remote"
)

// recordApplied writes the applied marker: which files the server now runs
// with, so that a later run can tell files installed but never put into
// effect. It follows a start, restart or reload in the same script. For a
// node an operator stopped (stopped set), it follows the install: those
// files are what the server will run with when the operator starts it, or
// the next run would take them for files not yet in effect and restart it.
type recordApplied struct{ stopped bool }

func (recordApplied) Title() string { return "record applied files" }

func (r recordApplied) ShouldRun(p *HostPlan) bool {
	if r.stopped {
		return p.LeftStopped
	}
	// A plan made for one swap alone (SwapBinary) knows no desired files:
	// the swap updated the marker's line of the binary itself.
	return p.Action != ActionNone && len(p.Desired) > 0
}

func (recordApplied) Script(h *hostRun) string {
	m := markerPath(h.s.Inv)
	t := shellQuote(m + remote.TempSuffix)
	return fmt.Sprintf("(umask 077 && printf '%%s' %[1]s > %[2]s && chown root:%[3]s %[2]s && chmod 640 %[2]s && mv -f -- %[2]s %[4]s) || { rm -f -- %[2]s; return 1; }",
		shellQuote(string(markerContent(h.p.Desired))), t, shellQuote(h.s.Inv.NATS.User), shellQuote(m))
}
