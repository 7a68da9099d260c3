package provision

import (
	"fmt"
	"io"
	"strings"

	"github.com/dcctl/dcctl/words"
)

// Summary lists the plan's changes in a few words each.
func (p *HostPlan) Summary() []string {
	var out []string
	if len(p.CleanTemp) > 0 {
		out = append(out, "remove "+words.Count(len(p.CleanTemp), "leftover temp file"))
	}
	if p.CreateUser {
		out = append(out, "create user")
	}
	for _, d := range p.Parents {
		out = append(out, "create dir "+d)
	}
	for _, d := range p.Dirs {
		out = append(out, "dir "+d.Path)
	}
	for _, f := range p.Files {
		out = append(out, f.Reason+" "+f.File.Path)
	}
	if p.DaemonReload {
		out = append(out, "daemon-reload")
	}
	if p.Enable && p.Action != ActionStart {
		out = append(out, "enable")
	}
	if p.Action != ActionNone {
		out = append(out, string(p.Action))
	}
	return out
}

// PrintPlans writes what provision would do, per host; with diff, the
// unified diffs of changed text files (secrets redacted).
func PrintPlans(w io.Writer, plans []*HostPlan, diff bool) {
	changed := 0
	var unplanned []string
	for _, p := range plans {
		head := fmt.Sprintf("%s (%s)", p.Node.Name, p.Node.Host)
		switch {
		case p.Unreachable != nil:
			fmt.Fprintf(w, "%s: UNREACHABLE: %v\n", head, p.Unreachable)
			unplanned = append(unplanned, p.Node.Name)
			continue
		case p.Err != nil:
			fmt.Fprintf(w, "%s: FAILED: %v\n", head, p.Err)
			unplanned = append(unplanned, p.Node.Name)
			continue
		case !p.Changed() && p.LeftStopped:
			fmt.Fprintf(w, "%s: no change; %s\n", head, strings.Join(p.Why, "; "))
			continue
		case !p.Changed():
			fmt.Fprintf(w, "%s: ok, no change\n", head)
			continue
		}
		changed++
		fmt.Fprintf(w, "%s:\n", head)
		for _, s := range p.Summary() {
			if s == string(p.Action) {
				continue
			}
			fmt.Fprintf(w, "  - %s\n", s)
		}
		if p.Action != ActionNone {
			fmt.Fprintf(w, "  => %s: %s\n", p.Action, strings.Join(p.Why, "; "))
		} else if len(p.Why) > 0 {
			fmt.Fprintf(w, "  (%s)\n", strings.Join(p.Why, "; "))
		}
		if diff {
			for _, f := range p.Files {
				if f.Diff != "" {
					fmt.Fprintf(w, "%s", indent(f.Diff, "    "))
				}
			}
		}
	}
	fmt.Fprintln(w, hostsToChange(changed, len(plans), unplanned))
}

// hostsToChange is the plan's last line: "0 of 3 hosts to change", "1 of
// 1 host to change", "no hosts to change", and the hosts that could not be
// planned, whose changes are unknown: "0 of 17 hosts to change" alone read
// as nothing to do while a host's key had changed.
func hostsToChange(changed, total int, unplanned []string) string {
	if total == 0 {
		return words.Count(0, "host") + " to change"
	}
	line := fmt.Sprintf("%d of %s to change", changed, words.Count(total, "host"))
	if len(unplanned) == 0 {
		return line
	}
	names := unplanned
	const shown = 4
	more := ""
	if len(names) > shown {
		names, more = names[:shown], fmt.Sprintf(" and %d more", len(unplanned)-shown)
	}
	return fmt.Sprintf("%s; %s could not be planned (see above): %s%s", line, words.Count(len(unplanned), "host"), strings.Join(names, ", "), more)
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return pre + strings.Join(lines, "\n"+pre) + "\n"
}
