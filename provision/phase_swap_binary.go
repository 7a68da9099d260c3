package provision

import (
	"context"
	"fmt"

	"github.com/dcctl/dcctl/remote"
)

// swapBinary is an upgrade's restart: lame-duck stop (the unit's stop sends
// SIGUSR2), then the staged <install_path>.next takes the installed
// binary's place, which stays beside it as <install_path>.previous (a hard
// link: the install path is never missing), then start. A rollback moves
// .previous back instead. The binary's lines in the sums stamp and the
// applied marker follow the new file (the other files' lines stay), so that the next provision neither hashes it again nor takes it
// for a file not yet in effect.
type swapBinary struct{}

func (swapBinary) Title() string              { return "swap the binary" }
func (swapBinary) ShouldRun(p *HostPlan) bool { return p.Upgrade && p.Action == ActionRestart }

func (swapBinary) Script(h *hostRun) string {
	nats := h.s.Inv.NATS
	install := nats.InstallPath
	from, swap := install+NextSuffix, `ln -f -- "$p" "$p`+PreviousSuffix+`" && mv -f -- "$from" "$p"`
	if h.p.Rollback {
		from, swap = install+PreviousSuffix, `mv -f -- "$from" "$p"`
	}
	return fmt.Sprintf(`p=%[1]s; from=%[2]s; u=%[3]s; sums=%[4]s; m=%[5]s
if [ ! -f "$from" ]; then echo "$from is missing: nothing to swap in" >&2; return 1; fi
# Its sum (for the stamp and the marker) before the stop: the node is down
# for the swap only, not for the hash of a 24 MB binary.
%[9]s || return 1
sum=${sum%%%% *}
# From the stop to the start, a cancel (SIGTERM) or a dropped connection
# (HUP, PIPE) must not stop the script between them: that would leave the
# node down. The whole takes the lame-duck stop and a start.
trap '' INT TERM HUP PIPE
systemctl stop "$u" || return 1
i=0
while systemctl is-active --quiet "$u"; do
	i=$((i+1))
	if [ $i -gt 50 ]; then echo "$u still $(systemctl is-active "$u") 5s after its stop" >&2; systemctl start "$u"; return 1; fi
	sleep 0.1
done
%[6]s || { systemctl start "$u"; return 1; }
{ { [ ! -f "$sums" ] || awk -v p="$p" 'substr($0, index($0, " ") + 66) != p' "$sums"; printf '%%s %%s %%s\n' "$(stat -c '%[7]s' "$p")" "$sum" "$p"; } > "$sums%[8]s" && mv -f "$sums%[8]s" "$sums"; } 2>/dev/null || rm -f "$sums%[8]s"
if [ -f "$m" ]; then
	{ awk -v p="$p" -v s="$sum" '$2 == p { $1 = s } { print }' "$m" > "$m%[8]s" && chown --reference="$m" "$m%[8]s" && chmod --reference="$m" "$m%[8]s" && mv -f "$m%[8]s" "$m"; } || rm -f "$m%[8]s"
fi
systemctl start "$u" || return 1
systemctl is-active --quiet "$u" || { echo "$u is $(systemctl is-active "$u") after its start" >&2; return 1; }
trap - INT TERM HUP PIPE
echo "swapped $sum"`, shellQuote(install), shellQuote(from), shellQuote(h.unit()), shellQuote(sumsPath(h.s.Inv)), shellQuote(markerPath(h.s.Inv)),
		swap, statSignature, remote.TempSuffix, remote.SHA256Into("sum", `"$from"`))
}

func (swapBinary) Explain(ctx context.Context, h *hostRun, stderr string) error {
	return fmt.Errorf("swap the binary on %s: %s%s", h.node(), stderr, journalTail(ctx, h.c, h.unit(), h.s.Secrets))
}

func (swapBinary) Done(h *hostRun, stdout string) {
	what := "swapped in " + h.s.Inv.NATS.InstallPath + NextSuffix + " (the old binary kept as " + PreviousSuffix + ")"
	if h.p.Rollback {
		what = "put " + h.s.Inv.NATS.InstallPath + PreviousSuffix + " back"
	}
	h.say("stopped (lame duck), " + what + ", started")
}
