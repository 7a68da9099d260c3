package provision

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/remote"
)

// Unit actions of UnitCtl.
const (
	UnitStart   = "start"
	UnitStop    = "stop"
	UnitRestart = "restart"
	UnitKill    = "kill"
)

// UnitActions lists what UnitCtl accepts, for usage text.
var UnitActions = []string{UnitStart, UnitStop, UnitRestart, UnitKill}

// UnitState is a node's nats-server unit as systemd reports it.
type UnitState struct {
	Unit     string `json:"unit"`
	Load     string `json:"load"`   // loaded, not-found, ...
	Active   string `json:"active"` // active, inactive, failed, activating, deactivating
	Sub      string `json:"sub"`    // running, dead, auto-restart, ...
	Result   string `json:"result,omitempty"`
	MainPID  int    `json:"main_pid"`
	Restarts int    `json:"restarts"`
	// StoppedBy is set when an operator stopped the node with `dcctl node
	// stop`: who and when (the stop marker).
	StoppedBy string `json:"stopped_by,omitempty"`
	// Pending lists the files in config_dir whose content is not what the
	// applied marker says the server runs with: a provision stopped (Ctrl-C,
	// a gate that timed out, a host lost) between installing them and the
	// restart. The server answers as healthy meanwhile, on its old config.
	Pending []string `json:"pending,omitempty"`
	// Clock is the host's clock as the command read it (zero when it could
	// not), and ClockOffset how far it is from this machine's
	// (ClockOffset: 0 within the round trip).
	Clock       time.Time     `json:"-"`
	ClockOffset time.Duration `json:"-"`
}

// State is the one word status shows: the active state, or "not-found"
// when the unit is not installed.
func (u UnitState) State() string {
	if u.Load == "not-found" {
		return "not-found"
	}
	return u.Active
}

func (u UnitState) String() string {
	s := u.State()
	if u.Sub != "" && u.Load != "not-found" {
		s += " (" + u.Sub + ")"
	}
	if u.Result != "" && u.Result != "success" {
		s += ", result " + u.Result
	}
	if u.MainPID != 0 {
		s += fmt.Sprintf(", pid %d", u.MainPID)
	}
	if u.StoppedBy != "" && u.Active != "active" {
		s += ", stopped by an operator (" + u.StoppedBy + ")"
	}
	return s
}

// UnitState asks systemd on node's host for the state of the nats-server
// unit, in one round trip.
func (s *Session) UnitState(ctx context.Context, node string) (UnitState, error) {
	c, err := s.Client(ctx, node)
	if err != nil {
		return UnitState{}, err
	}
	unit := s.Inv.NATS.Service + ".service"
	cmd := "systemctl show --no-pager -p LoadState,ActiveState,SubState,Result,MainPID,NRestarts " + shellQuote(unit) +
		fmt.Sprintf(`; if [ -f %[1]s ]; then printf 'DcctlStoppedBy=%%s\n' "$(head -n 1 %[1]s | cut -c 1-200)"; fi`, shellQuote(stopMarkerPath(s.Inv))) +
		"; " + pendingScript(s.Inv) + "; date +DcctlClock=%s.%N"
	sent := time.Now()
	out, _, err := c.Run(ctx, cmd)
	if err != nil {
		return UnitState{}, fmt.Errorf("state of %s on %s: %w", unit, node, err)
	}
	u := parseUnitShow(unit, out)
	if !u.Clock.IsZero() {
		u.ClockOffset = ClockOffset(u.Clock, sent, time.Now())
	}
	return u, nil
}

func parseUnitShow(unit string, out []byte) UnitState {
	u := UnitState{Unit: unit}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "LoadState":
			u.Load = v
		case "ActiveState":
			u.Active = v
		case "SubState":
			u.Sub = v
		case "Result":
			u.Result = v
		case "MainPID":
			u.MainPID, _ = strconv.Atoi(v)
		case "NRestarts":
			u.Restarts, _ = strconv.Atoi(v)
		case "DcctlPending":
			u.Pending = append(u.Pending, v)
		case "DcctlStoppedBy":
			u.StoppedBy = v
		case "DcctlClock":
			u.Clock = parseClock(v)
			if v == "" {
				u.StoppedBy = "unknown"
			}
		}
	}
	return u
}

// UnitCtl starts, stops, restarts or kills node's nats-server unit and
// checks the outcome: after start and restart the unit is active; after stop
// and kill it is down and its process is gone.
//
// stop records the operator's intent first (the stop marker) and disables
// the unit, so that neither provision nor a reboot starts the node again;
// start and restart remove the marker and enable the unit again.
//
// kill is the crash drill: SIGKILL, no lame duck. The unit has
// Restart=on-failure, so systemd would bring the server back after RestartSec;
// stopping the unit right after the kill cancels that pending restart (the
// unit ends "failed", result "signal"), so the node stays down until someone
// starts it, as a crashed host would. A node already down is left as it is.
func (s *Session) UnitCtl(ctx context.Context, node, action string) error {
	c, err := s.Client(ctx, node)
	if err != nil {
		return err
	}
	unit := shellQuote(s.Inv.NATS.Service + ".service")
	var script string
	switch action {
	case UnitStart, UnitRestart:
		script = startScript(s.Inv, action)
	case UnitStop:
		script = stopScript(s.Inv, stopMarkerContent(time.Now()))
	case UnitKill:
		// MainPID is read before the kill so that we can prove that very
		// process is gone, not merely that systemd forgot about it.
		script = fmt.Sprintf(`pid=$(systemctl show -p MainPID --value %[1]s)
if [ "$pid" = 0 ] || [ -z "$pid" ]; then exit 0; fi
systemctl kill --signal=SIGKILL %[1]s || exit 1
systemctl stop %[1]s || exit 1
`+waitGone, unit)
	default:
		return fmt.Errorf("unit action %q: want one of %s", action, strings.Join(UnitActions, ", "))
	}
	if _, _, err := c.Run(ctx, script); err != nil {
		tail := ""
		if action == UnitStart || action == UnitRestart {
			// systemd's own error only points at the journal: show it.
			tail = journalTail(ctx, c, s.Inv.NATS.Service+".service", s.Secrets)
		}
		return fmt.Errorf("%s %s on %s: %w%s", action, s.Inv.NATS.Service, node, err, tail)
	}
	return nil
}

// stopScript writes the stop marker with content (one line, no quote),
// disables the unit and stops it. The marker is written (atomically) before
// the stop: a stop that half happens still says what the operator wanted.
// A marker replace-peer --permanent left is kept as it is: a later stop (or
// a repeated retire) must not turn "removed for good" into a plain stop,
// which `node start` and provision's notes treat as an operator's pause.
func stopScript(inv *inventory.Inventory, content string) string {
	return fmt.Sprintf(`case "$(head -n 1 %[3]s 2>/dev/null)" in
%[4]s*) ;;
*) printf '%%s\n' '%[2]s' > %[3]s.tmp && mv -f %[3]s.tmp %[3]s || exit 1 ;;
esac
systemctl disable --quiet %[1]s || exit 1
systemctl stop %[1]s || exit 1
`+waitGone, shellQuote(inv.NATS.Service+".service"), content, shellQuote(stopMarkerPath(inv)), shellQuote(RemovedTag))
}

// startScript starts or restarts the unit (enabling it again when an
// operator had stopped it) and records the files it now runs with.
func startScript(inv *inventory.Inventory, action string) string {
	unit := shellQuote(inv.NATS.Service + ".service")
	return fmt.Sprintf(`if [ -f %[3]s ]; then systemctl enable --quiet %[2]s && rm -f %[3]s || exit 1; fi
systemctl %[1]s %[2]s || exit 1
systemctl is-active --quiet %[2]s || { echo "unit is $(systemctl is-active %[2]s) after %[1]s" >&2; exit 1; }
`, action, unit, shellQuote(stopMarkerPath(inv))) + refreshAppliedScript(markerPath(inv))
}

// refreshAppliedScript: a server just started or restarted runs the files
// on disk, so the applied marker (when dcctl ever wrote one) is rewritten
// with their sums. Otherwise provision would take files installed by an
// earlier run and put into effect by `dcctl node restart` for files still
// waiting for a restart.
func refreshAppliedScript(marker string) string {
	return fmt.Sprintf(`m=%[1]s
if [ -f "$m" ]; then
	t="$m"%[2]s
	(umask 077 && awk '{print $2}' "$m" | while read -r p; do if [ -f "$p" ]; then printf '%%s %%s\n' "$(sha256sum < "$p" | cut -d ' ' -f 1)" "$p"; fi; done > "$t" &&
		chown --reference="$m" "$t" && chmod --reference="$m" "$t" && mv -f -- "$t" "$m") || { rm -f -- "$t"; echo "could not update $m" >&2; exit 1; }
fi`, shellQuote(marker), shellQuote(remote.TempSuffix))
}

// waitGone polls (5 s at most) until the process $pid, when set, has exited
// and the unit (format argument 1) is no longer active.
const waitGone = `i=0
while { [ -n "${pid:-}" ] && [ "${pid:-0}" != 0 ] && kill -0 "$pid" 2>/dev/null; } || systemctl is-active --quiet %[1]s; do
	i=$((i+1))
	if [ $i -gt 50 ]; then echo "still running after 5s (pid ${pid:-?}, unit $(systemctl is-active %[1]s))" >&2; exit 1; fi
	sleep 0.1
done`

// pendingScript prints DcctlPending=PATH for each file under config_dir
// that the applied marker ("SHA256 PATH" lines) lists with another sum than
// the file has now: three processes, whatever the number of files. The
// binary is left out (hashing it on every status would cost each host far
// more than the rest). A file gone is no pending change.
func pendingScript(inv *inventory.Inventory) string {
	dir := strings.ReplaceAll(inv.NATS.ConfigDir, ".", `\.`) // paths hold no other BRE specials (validate)
	sel := fmt.Sprintf(`s#^\([0-9a-f]\{64\}\) \(%s/.*\)$#\1  \2#p`, dir)
	return fmt.Sprintf(`if [ -f %[1]s ]; then sed -n %[2]s %[1]s | sha256sum -c --quiet 2>/dev/null | sed -n 's/^\(.*\): FAILED$/DcctlPending=\1/p'; fi`,
		shellQuote(markerPath(inv)), shellQuote(sel))
}
