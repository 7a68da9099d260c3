package provision

import (
	"bufio"
	"context"
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
func factsScript(user, service, marker, sums, stopped string, files, dirs []string) string {
	var b strings.Builder
	b.WriteString("export LC_ALL=C\n")
	fmt.Fprintf(&b, `sum() { if [ -f %[1]s ]; then c=$(awk -v s="$(stat -c '%[2]s' "$1")" -v p="$1" '$1 == s && substr($0, index($0, " ") + 66) == p { print $2; exit }' %[1]s); if [ -n "$c" ]; then echo "$c"; return; fi; fi; sha256sum "$1" | cut -d' ' -f1; }`+"\n", shellQuote(sums), statSignature)
	b.WriteString(`echo "os $(uname -s)"; echo "arch $(uname -m)"` + "\n")
	b.WriteString(`if [ -d /run/systemd/system ]; then echo "systemd yes"; else echo "systemd no"; fi` + "\n")
	fmt.Fprintf(&b, `if id -u %s >/dev/null 2>&1; then echo "user yes"; else echo "user no"; fi`+"\n", shellQuote(user))
	for _, f := range files {
		q := shellQuote(f)
		fmt.Fprintf(&b, `if [ -f %[1]s ]; then printf 'file %%s %%s %%s\n' "$(sum %[1]s)" "$(stat -c '%%a %%U %%G' %[1]s)" %[1]s; else printf 'file - - - - %%s\n' %[1]s; fi`+"\n", q)
		fmt.Fprintf(&b, `if [ -e %s ]; then printf 'temp %%s\n' %s; fi`+"\n", shellQuote(f+remote.TempSuffix), q)
	}
	for _, d := range dirs {
		q := shellQuote(d)
		fmt.Fprintf(&b, `if [ -d %[1]s ]; then printf 'dir x %%s %%s\n' "$(stat -c '%%a %%U %%G' %[1]s)" %[1]s; else printf 'dir - - - - %%s\n' %[1]s; fi`+"\n", q)
	}
	fmt.Fprintf(&b, `if [ -f %[1]s ]; then sed 's/^/applied /' %[1]s; fi`+"\n", shellQuote(marker))
	fmt.Fprintf(&b, `if [ -f %[1]s ]; then printf 'stopped %%s\n' "$(head -n 1 %[1]s | cut -c 1-200)"; fi`+"\n", shellQuote(stopped))
	unit := shellQuote(service + ".service")
	fmt.Fprintf(&b, `echo "enabled $(systemctl is-enabled %[1]s 2>/dev/null || true)"; echo "active $(systemctl is-active %[1]s 2>/dev/null || true)"`+"\n", unit)
	b.WriteString("true\n")
	return b.String()
}

// gatherFacts runs the facts script on one host.
func gatherFacts(ctx context.Context, c *remote.Client, user, service, marker, sums, stopped string, files, dirs []string) (*Facts, error) {
	out, _, err := c.Run(ctx, factsScript(user, service, marker, sums, stopped, files, dirs))
	if err != nil {
		return nil, fmt.Errorf("gather facts: %w", err)
	}
	f, err := parseFacts(string(out))
	if err != nil {
		return nil, fmt.Errorf("gather facts: %w", err)
	}
	return f, nil
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
