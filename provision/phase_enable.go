package provision

import (
	"fmt"

	"github.com/dcctl/dcctl/templates"
)

// enableUnit enables the unit of a node that runs, is a standby, or is
// about to be started for the first time; a node an operator stopped stays
// disabled. For a first install it runs in the install script, not with
// the start, so that the first starts, which a new cluster needs close
// together to elect its meta leader at the first try, are a bare
// `systemctl start` on every host.
//
// A plain `systemctl enable` reloads systemd, which costs each host ~0.1 s
// of CPU (up to a second when a whole lab of containers does it at once):
// the enable says --no-reload instead, and systemd reloads only when it
// does not already hold this unit file as it is on disk. A unit systemd has
// never loaded is read from disk when `systemctl show` asks for it (systemd
// 246 and later also pick up a new file for a name they knew as missing);
// one loaded from an older file, or from somewhere else, or a systemd that
// says anything else, gets the reload as before. The symlinks the enable
// made matter at the next boot, when systemd reads them; but systemd keeps
// the unit file state of a unit it has loaded (a standby node's, installed
// and not enabled) as it was until a reload, and the facts read that state:
// without the reload, every later provision would plan the enable again.
type enableUnit struct{}

func (enableUnit) Title() string { return "enable the unit" }
func (enableUnit) ShouldRun(p *HostPlan) bool {
	return p.Enable && !p.LeftStopped
}

func (enableUnit) Script(h *hostRun) string {
	u := shellQuote(h.unit())
	file := templates.PathsFor(h.s.Inv).Unit
	// Four lines must match, each once; the shell's case, not grep: no
	// process per line.
	return fmt.Sprintf(`systemctl enable --no-reload %[1]s || return 1
if ! systemctl show -p LoadState -p NeedDaemonReload -p FragmentPath -p UnitFileState %[1]s 2>/dev/null | {
	n=0
	while IFS= read -r l; do
		case $l in LoadState=loaded | NeedDaemonReload=no | FragmentPath=%[2]s | UnitFileState=enabled) n=$((n + 1)) ;; esac
	done
	[ "$n" -eq 4 ]
}; then
	systemctl daemon-reload || return 1
fi`, u, shellQuote(file))
}

func (enableUnit) Done(h *hostRun, _ string) { h.say("enabled " + h.unit()) }
