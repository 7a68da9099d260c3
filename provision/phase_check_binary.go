package provision

import (
	"context"
	"fmt"
	"strings"

	"github.com/dcctl/dcctl/remote"
)

// checkBinary runs the uploaded binary (`--version`) before it replaces the
// installed one: one that cannot run on this host (another architecture or
// C library, a noexec mount) never takes a working one's place. It runs in
// the target's directory, so a noexec mount fails here too; a program of
// the wrong kind may wait for input forever, hence the timeout. Its first
// line is cut by the shell, not by head: a fresh host runs this once per
// run, and every process is CPU the host's other work shares. When the
// new configuration is checked too, `-t` runs the new binary already, and
// `--version` runs only if that fails, to tell a binary that does not run
// from a configuration it rejects (checkConfig's script).
type checkBinary struct{}

func (checkBinary) Title() string { return "check the new binary runs" }
func (checkBinary) ShouldRun(p *HostPlan) bool {
	return stagedBinary(p) != nil && !checkConfig{}.ShouldRun(p)
}

// binaryRunsScript runs the staged binary's --version under a timeout; on
// failure it writes why to stderr, removes the uploads and returns 1; on
// success it prints "version <its first line>".
func binaryRunsScript(h *hostRun) string {
	t := shellQuote(stagedBinary(h.p).File.Path + remote.TempSuffix)
	return fmt.Sprintf(`to=; if command -v timeout >/dev/null 2>&1; then to="timeout %[1]d"; fi
out=$($to %[2]s --version 2>&1 </dev/null); rc=$?
if [ $rc -ne 0 ]; then
	if [ $rc -eq 124 ] && [ -n "$to" ]; then out="no exit within %[1]ds"; fi
	printf '%%s\n' "exit status $rc: $(printf '%%s' "$out" | head -c 300)" >&2
	rm -f --%[3]s
	return 1
fi
printf 'version %%s\n' "${out%%%%
*}"`, remote.CheckTimeout, t, stagedTemps(h.p))
}

func (checkBinary) Script(h *hostRun) string { return binaryRunsScript(h) }

func (checkBinary) Explain(_ context.Context, h *hostRun, stderr string) error {
	return binaryDoesNotRun(h, stderr)
}

func binaryDoesNotRun(h *hostRun, stderr string) error {
	return fmt.Errorf("nats.binary %s does not run on %s (wrong architecture or C library, or a noexec mount?): %w (%s); the installed file stays",
		h.s.Inv.NATS.Binary, h.node(), remote.ErrCheckFailed, stderr)
}

func (checkBinary) Done(h *hostRun, stdout string) {
	if v := linesWith(stdout, "version "); len(v) > 0 {
		h.version = strings.TrimSpace(v[0])
	}
	if h.p.Upgrade && h.p.UpgradeTo == "" {
		h.p.UpgradeTo = versionWord(h.version)
	}
}
