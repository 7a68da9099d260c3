package provision

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/dcctl/dcctl/remote"
)

// Facts is what one host looks like before a run, gathered in one round trip.
type Facts struct {
	OS, Arch     string
	Systemd      bool
	User         bool // the nats system user exists
	Files        map[string]FileFact
	Dirs         map[string]FileFact
	UnitEnabled  string // systemctl is-enabled: enabled, disabled, not-found, ...
	UnitActive   string // systemctl is-active: active, inactive, failed, activating, ...
	LeftoverTemp []string
	// Applied is the sha256 of each file as it was when the running server
	// was last started, restarted or reloaded by dcctl (the applied marker).
	Applied map[string]string
	// Stopped is set when an operator stopped the node with `dcctl node
	// stop` (the stop marker exists); StoppedBy says who and when.
	Stopped   bool
	StoppedBy string
}

// FileFact is one path on the host; Exists false when absent.
type FileFact struct {
	Exists bool
	SHA256 string
	Mode   uint32
	Owner  string
	Group  string
}

// factsScript prints one fact per line. It only reads: facts never change a host.
// A file's sha256 is taken from the sums stamp (see sumsPath) when the file's
// size, mtime, ctime (nanoseconds) and inode are still those recorded there,
// and computed otherwise: hashing the 24 MB binary costs ~80 ms of CPU per host.
//
// It starts few programs (six on a host with nothing to change): uname, id,
// one stat for every file and directory, one awk that looks the files up in
// the stamp and tells the directories (by path: host paths hold no newline)
// from them, and systemctl twice; the applied marker is read by the shell.
// Forks and execs are most of the CPU a no-op costs a host (~40 of them,
// 54 ms, before this shape; 8 programs until the directories joined the
// files' stat), and many hosts may share a CPU.
func factsScript(user, service, marker, sums, stopped string, files, dirs []string) string {
	var b strings.Builder
	b.WriteString("export LC_ALL=C\n")
	b.WriteString(`u=$(uname -sm); echo "os ${u% *}"; echo "arch ${u##* }"` + "\n")
	b.WriteString(`if [ -d /run/systemd/system ]; then echo "systemd yes"; else echo "systemd no"; fi` + "\n")
	fmt.Fprintf(&b, `if id -u %s >/dev/null 2>&1; then echo "user yes"; else echo "user no"; fi`+"\n", shellQuote(user))
	// Files and directories: the missing ones and leftover temporary files
	// by the shell's own tests; the present ones by one stat, whose lines
	// awk completes, a file's with the stamped sha256 or a mark for hashing
	// ("-"), a directory's (its path in $dirs) as such.
	b.WriteString("set --\nfor p in")
	for _, f := range files {
		b.WriteString(" " + shellQuote(f))
	}
	fmt.Fprintf(&b, `; do if [ -f "$p" ]; then set -- "$@" "$p"; else printf 'file - - - - %%s\n' "$p"; fi; if [ -e "$p%s" ]; then printf 'temp %%s\n' "$p"; fi; done`+"\n", remote.TempSuffix)
	b.WriteString("dirs=")
	b.WriteString(shellQuote(strings.Join(dirs, "\n")))
	b.WriteString("\nfor p in")
	for _, d := range dirs {
		b.WriteString(" " + shellQuote(d))
	}
	b.WriteString(`; do if [ -d "$p" ]; then set -- "$@" "$p"; else printf 'dir - - - - %s\n' "$p"; fi; done` + "\n")
	b.WriteString(`[ $# -eq 0 ] || stat -c '` + statSignature + ` %a %U %G %n' -- "$@" | dirs=$dirs sums=` + shellQuote(sums) + ` awk '
BEGIN { while ((getline l < ENVIRON["sums"]) > 0) { i = index(l, " "); known[substr(l, i + 66)] = substr(l, 1, i + 64) }
  n = split(ENVIRON["dirs"], d, "\n"); for (i = 1; i <= n; i++) isdir[d[i]] = 1 }
{ p = $0; for (k = 0; k < 4; k++) p = substr(p, index(p, " ") + 1)
  if (p in isdir) { print "dir x", $2, $3, $4, p; next }
  c = "-"; if ((p in known) && substr(known[p], 1, index(known[p], " ") - 1) == $1) c = substr(known[p], index(known[p], " ") + 1)
  print "file", c, $2, $3, $4, p }' | while read -r k c m o g p; do
	if [ "$k" = file ] && [ "$c" = - ]; then c=$(sha256sum < "$p") && c=${c%% *} || c=-; fi
	printf '%s %s %s %s %s %s\n' "$k" "$c" "$m" "$o" "$g" "$p"
done
`)
	fmt.Fprintf(&b, `if [ -f %[1]s ]; then while IFS= read -r l || [ -n "$l" ]; do printf 'applied %%s\n' "$l"; done < %[1]s; fi`+"\n", shellQuote(marker))
	fmt.Fprintf(&b, `if [ -f %[1]s ]; then printf 'stopped %%s\n' "$(head -n 1 %[1]s | cut -c 1-200)"; fi`+"\n", shellQuote(stopped))
	unit := shellQuote(service + ".service")
	fmt.Fprintf(&b, `echo "enabled $(systemctl is-enabled %[1]s 2>/dev/null || true)"; echo "active $(systemctl is-active %[1]s 2>/dev/null || true)"`+"\n", unit)
	b.WriteString("true\n")
	return b.String()
}

// parseFacts reads the facts script's output. Paths come last on their line
// so that they may hold spaces.
func parseFacts(out string) (*Facts, error) {
	f := &Facts{Files: map[string]FileFact{}, Dirs: map[string]FileFact{}, Applied: map[string]string{}}
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		key, rest, _ := strings.Cut(line, " ")
		switch key {
		case "os":
			f.OS = rest
		case "arch":
			f.Arch = rest
		case "systemd":
			f.Systemd = rest == "yes"
		case "user":
			f.User = rest == "yes"
		case "enabled":
			f.UnitEnabled = strings.TrimSpace(rest)
		case "active":
			f.UnitActive = strings.TrimSpace(rest)
		case "applied":
			sha, path, ok := strings.Cut(rest, " ")
			if !ok || path == "" {
				return nil, fmt.Errorf("line %d: malformed applied fact %q", n, line)
			}
			f.Applied[path] = sha
		case "stopped":
			f.Stopped, f.StoppedBy = true, strings.TrimSpace(rest)
		case "temp":
			f.LeftoverTemp = append(f.LeftoverTemp, rest)
		case "file", "dir":
			parts := strings.SplitN(rest, " ", 5)
			if len(parts) != 5 || parts[4] == "" {
				return nil, fmt.Errorf("line %d: malformed %s fact %q", n, key, line)
			}
			ff := FileFact{}
			if parts[0] != "-" {
				mode, err := strconv.ParseUint(parts[1], 8, 32)
				if err != nil {
					return nil, fmt.Errorf("line %d: bad mode in %q", n, line)
				}
				ff = FileFact{Exists: true, SHA256: parts[0], Mode: uint32(mode), Owner: parts[2], Group: parts[3]}
			}
			if key == "file" {
				f.Files[parts[4]] = ff
			} else {
				f.Dirs[parts[4]] = ff
			}
		case "":
		default:
			return nil, fmt.Errorf("line %d: unexpected fact %q", n, line)
		}
	}
	if f.OS == "" {
		return nil, fmt.Errorf("no facts in output (is the login shell printing something else?)")
	}
	return f, nil
}

// shellQuote quotes s for POSIX sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
