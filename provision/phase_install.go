package provision

import (
	"context"
	"fmt"
	"strings"

	"github.com/dcctl/dcctl/remote"
)

// installFiles renames each uploaded, checked and flushed file over its
// target. Where the host's SFTP session renames over a file
// (remote.Client.CanRename), the renames go over it, with no program
// started; otherwise, and over exec, they are `mv` in the install script.
type installFiles struct{}

func (installFiles) Title() string { return "install files" }

func (installFiles) ShouldRun(p *HostPlan) bool {
	return stagedBinary(p) != nil || len(stagedText(p)) > 0
}

// renames are the plan's (temporary name, target) pairs, in the plan's
// order.
func renames(h *hostRun) [][2]string {
	var out [][2]string
	for _, fc := range h.p.Files {
		if fc.ModeOnly {
			continue
		}
		to := fc.File.Path
		if fc.File.Kind == "binary" && h.p.Upgrade {
			to += NextSuffix // staged: swapBinary puts it in place
		}
		out = append(out, [2]string{fc.File.Path + remote.TempSuffix, to})
	}
	return out
}

func (installFiles) Script(h *hostRun) string {
	var mv []string
	for _, r := range renames(h) {
		mv = append(mv, fmt.Sprintf("mv -f -- %s %s", shellQuote(r[0]), shellQuote(r[1])))
	}
	// The renames ignore a cancel's SIGTERM (and a dropped connection's
	// HUP/PIPE): they take microseconds, and stopping between two of them
	// would leave a config that includes a file of the other generation.
	// Every file is on disk before the first rename (flushUploads).
	return "trap '' INT TERM HUP PIPE\n" + strings.Join(mv, " &&\n") + " || return 1\ntrap - INT TERM HUP PIPE"
}

// InProcess: over SFTP, where the server renames over a file. The script
// before it ends with flushUploads: every file is on disk by then.
func (installFiles) InProcess(h *hostRun) bool {
	return h.c.CanRename()
}

// RunInProcess renames over SFTP, every rename even once ctx is cancelled
// (as the script ignores the signals): a config must not include a file of
// the other generation. A failed rename stops there: the files renamed
// before it are in place, the others keep their old content under their
// names and their uploads under the temporary ones, for the next run.
func (installFiles) RunInProcess(ctx context.Context, h *hostRun) error {
	ctx = context.WithoutCancel(ctx)
	for _, r := range renames(h) {
		if err := h.c.Rename(ctx, r[0], r[1]); err != nil {
			return fmt.Errorf("install files on %s: %w", h.node(), err)
		}
	}
	return nil
}

func (installFiles) Done(h *hostRun, _ string) {
	for _, fc := range h.p.Files {
		switch {
		case fc.ModeOnly:
		case fc.File.Kind == "binary" && h.p.Upgrade:
			h.say(fmt.Sprintf("staged %s%s (%s%.1f MB in %.1fs); the running server is untouched", fc.File.Path, NextSuffix, versionPrefix(h.version), float64(h.binarySize)/1e6, h.binaryTook.Seconds()))
		case fc.File.Kind == "binary":
			h.say(fmt.Sprintf("installed %s (%s%.1f MB in %.1fs)", fc.File.Path, versionPrefix(h.version), float64(h.binarySize)/1e6, h.binaryTook.Seconds()))
		case fc.File.Kind == "config":
			h.say(fmt.Sprintf("installed %s (%s, checked with nats-server -t)", fc.File.Path, fc.Reason))
		default:
			h.say("installed " + fc.File.Path)
		}
	}
}

// versionPrefix starts an installed binary's line with its release, when
// known: a binary without Go build information checked by -t alone has none.
func versionPrefix(v string) string {
	if v == "" {
		return ""
	}
	return v + ", "
}

// stampSums stamps the sums of the files installFiles put in place, for
// the next run's facts. The sums stamp is a
// cache: failing to write it only costs the next run a hash. It gets a
// line for every file installed now (the next facts then hash none of
// them) and keeps the lines of the others.
type stampSums struct{}

func (stampSums) Title() string { return "stamp the installed files' sums" }

// ShouldRun: a file is installed under its name (an upgrade's binary alone
// is staged as .next: nothing to stamp, and no script to run for it).
func (stampSums) ShouldRun(p *HostPlan) bool {
	return len(stagedText(p)) > 0 || (stagedBinary(p) != nil && !p.Upgrade)
}

func (stampSums) Script(h *hostRun) string {
	stamp := sumsPath(h.s.Inv)
	tmp := shellQuote(stamp + remote.TempSuffix)
	var installed, sums, quoted []string
	for _, fc := range h.p.Files {
		if fc.ModeOnly || (fc.File.Kind == "binary" && h.p.Upgrade) {
			continue // an upgrade's binary is staged as .next: swapBinary puts it in place
		}
		installed = append(installed, fc.File.Path)
		sums = append(sums, fc.File.SHA256)
		quoted = append(quoted, shellQuote(fc.File.Path))
	}
	// One stat for every file (not one each): its lines name the files, and
	// awk puts each one's sum beside its signature.
	return fmt.Sprintf(`{ { [ ! -f %[1]s ] || installed=%[2]s awk 'BEGIN { n = split(ENVIRON["installed"], a, "\n"); for (i = 1; i <= n; i++) now[a[i]] = 1 } !(substr($0, index($0, " ") + 66) in now)' %[1]s
stat -c '%[5]s %%n' -- %[6]s | installed=%[2]s sums=%[3]s awk 'BEGIN { n = split(ENVIRON["installed"], p, "\n"); split(ENVIRON["sums"], s, "\n"); for (i = 1; i <= n; i++) sum[p[i]] = s[i] }
{ i = index($0, " "); f = substr($0, i + 1); if (f in sum) print substr($0, 1, i - 1), sum[f], f }'
} > %[4]s && mv -f %[4]s %[1]s; } 2>/dev/null || rm -f %[4]s`,
		shellQuote(stamp), shellQuote(strings.Join(installed, "\n")), shellQuote(strings.Join(sums, "\n")), tmp, statSignature, strings.Join(quoted, " "))
}
