package provision

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/dcctl/dcctl/templates"
)

// createParents creates the missing directories that hold what dcctl
// installs without being its own. `mkdir -p` leaves an existing directory
// alone (`install -d` would chmod and chown it), and runs under umask 022:
// a parent created 0700, as a login's or sudo's umask may make it, would
// keep the service user from reaching its binary or config.
type createParents struct{}

func (createParents) Title() string              { return "create directories" }
func (createParents) ShouldRun(p *HostPlan) bool { return len(p.Parents) > 0 }

func (createParents) Script(h *hostRun) string {
	q := make([]string, len(h.p.Parents))
	for i, d := range h.p.Parents {
		q[i] = shellQuote(d)
	}
	// A subshell, so that the umask does not outlive this phase.
	return "(umask 022 && mkdir -p -- " + strings.Join(q, " ") + ")"
}

func (createParents) Done(h *hostRun, _ string) {
	h.say("created directory " + strings.Join(h.p.Parents, ", "))
}

// ownDirs creates or fixes the directories dcctl owns, mode and owner
// included: over SFTP in the sftp-server (remote.Client.MkdirOwned), with
// no program started; over exec, or for a directory the sftp-server cannot
// do (an owner not in the host's /etc files), `install -d`.
type ownDirs struct{}

func (ownDirs) Title() string              { return "create or fix owned directories" }
func (ownDirs) ShouldRun(p *HostPlan) bool { return len(p.Dirs) > 0 }

func (ownDirs) Script(h *hostRun) string { return installDirs(h.p.Dirs) }

func installDirs(dirs []templates.File) string {
	cmds := make([]string, len(dirs))
	for i, d := range dirs {
		cmds[i] = fmt.Sprintf("install -d -m %o -o %s -g %s %s", d.Mode, shellQuote(d.Owner), shellQuote(d.Group), shellQuote(d.Path))
	}
	return strings.Join(cmds, " &&\n")
}

// InProcess: over SFTP. The script so far (the user, the parents) runs
// first: the owner may be the user it creates.
func (ownDirs) InProcess(h *hostRun) bool { return h.c.OverSFTP() }

// RunInProcess makes each directory over SFTP, in order; from the first
// the sftp-server cannot do, the rest go to `install -d` in a script.
func (o ownDirs) RunInProcess(ctx context.Context, h *hostRun) error {
	for i, d := range h.p.Dirs {
		ok, err := h.c.MkdirOwned(ctx, d.Path, os.FileMode(d.Mode), d.Owner, d.Group)
		if err != nil {
			return fmt.Errorf("%s on %s: %w", o.Title(), h.node(), err)
		}
		if !ok {
			_, stderr, err := h.c.Run(ctx, installDirs(h.p.Dirs[i:]))
			if err != nil {
				return fmt.Errorf("%s on %s: %w", o.Title(), h.node(), withStderr(err, stderr))
			}
			return nil
		}
	}
	return nil
}

func (ownDirs) Done(h *hostRun, _ string) {
	for _, d := range h.p.Dirs {
		h.say(fmt.Sprintf("directory %s (%o %s:%s)", d.Path, d.Mode, d.Owner, d.Group))
	}
}
