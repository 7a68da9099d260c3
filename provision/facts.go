package provision

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"

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
	// Clock is the host's clock when the facts were read (zero when it
	// could not be read), and ClockOffset how far it is from this
	// machine's (ClockOffset: 0 within the round trip).
	Clock       time.Time
	ClockOffset time.Duration
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
// The host's clock comes from the same stat, at no cost in programs: the
// kernel creates /proc/self/'s inode (the stat process's own directory) when
// stat looks it up, stamped with the time then.
//
// It starts two programs on a host with nothing to change: one stat for
// every file and directory, and one systemctl show for the unit. The rest
// is the shell's own (dash as /bin/sh on Debian): the kernel's name and
// architecture from /proc/sys/kernel (uname's, which runs where that is
// missing: kernels before 6.1); the user known when it owns a file or
// directory stat printed (stat asked NSS for the name), else by a read loop
// over /etc/passwd, else by id (NSS: LDAP, systemd's users); the stamp and
// the applied marker by read loops, stat's lines and the stamped sums by
// patterns. Forks and execs are most of the CPU a no-op costs a host (~0.6
// to 1.2 ms each on the bench's machine), and many hosts may share a CPU:
// ~40 programs before this shape, then six (uname, id, awk for the stamp,
// systemctl twice), now two.
func factsScript(user, service, marker, sums, stopped string, files, dirs []string) string {
	var b strings.Builder
	b.WriteString("export LC_ALL=C\nnl='\n'\n")
	b.WriteString(`if [ -r /proc/sys/kernel/arch ] && read -r m < /proc/sys/kernel/arch && read -r o < /proc/sys/kernel/ostype; then u="$o $m"; else u=$(uname -sm); fi
echo "os ${u% *}"; echo "arch ${u##* }"
`)
	b.WriteString(`if [ -d /run/systemd/system ]; then echo "systemd yes"; else echo "systemd no"; fi` + "\n")
	// Files and directories: the missing ones and leftover temporary files
	// by the shell's own tests; the present ones by one stat, whose lines
	// the shell completes, a file's with the stamped sha256 or its hash, a
	// directory's (its path in $dirs) as such.
	b.WriteString("set --\nfor p in")
	for _, f := range files {
		b.WriteString(" " + shellQuote(f))
	}
	fmt.Fprintf(&b, `; do if [ -f "$p" ]; then set -- "$@" "$p"; else printf 'file - - - - %%s\n' "$p"; fi; if [ -e "$p%s" ]; then printf 'temp %%s\n' "$p"; fi; done`+"\n", remote.TempSuffix)
	b.WriteString("dirs=$nl")
	b.WriteString(shellQuote(strings.Join(dirs, "\n")))
	b.WriteString("$nl\nfor p in")
	for _, d := range dirs {
		b.WriteString(" " + shellQuote(d))
	}
	b.WriteString(`; do if [ -d "$p" ]; then set -- "$@" "$p"; else printf 'dir - - - - %s\n' "$p"; fi; done` + "\n")
	// stat's lines are "signature mode owner group path", the stamp's
	// "signature sha256 path"; a stamp line vouches for a file when both
	// its signature and its path are the file's. Lines are cut by patterns,
	// not read: dash's read takes a byte per system call.
	fmt.Fprintf(&b, `u=%s x=no
s=$nl; f=%s
[ ! -f "$f" ] || while IFS= read -r l || [ -n "$l" ]; do s="$s$l$nl"; done < "$f"
[ ! -d /proc/self/ ] || set -- /proc/self/ "$@"
st=; [ $# -eq 0 ] || st=$(stat -c '%s %%a %%U %%G %%n' -- "$@")
set -f
while [ -n "$st" ]; do
	l=${st%%%%"$nl"*}
	case $st in *"$nl"*) st=${st#*"$nl"} ;; *) st= ;; esac
	set -- $l
	[ $# -ge 5 ] || continue
	p=${l#"$1 $2 $3 $4 "}
	case $p in /proc/self/) printf 'clock %%s\n' "$1"; continue ;; esac
	[ "$3" != "$u" ] || x=yes
	case $dirs in *"$nl$p$nl"*) printf 'dir x %%s %%s %%s %%s\n' "$2" "$3" "$4" "$p"; continue ;; esac
	c=-
	case $s in *"$nl$1 "*) l=${s#*"$nl$1 "}; l=${l%%%%"$nl"*}; [ "${l#* }" != "$p" ] || c=${l%%%% *} ;; esac
	if [ "$c" = - ]; then c=$(sha256sum < "$p") && c=${c%%%% *} || c=-; fi
	printf 'file %%s %%s %%s %%s %%s\n' "$c" "$2" "$3" "$4" "$p"
done
set +f
[ $x = yes ] || [ ! -r /etc/passwd ] || while IFS=: read -r n r; do [ "$n" != "$u" ] || { x=yes; break; }; done < /etc/passwd
[ $x = yes ] || ! id -u "$u" >/dev/null 2>&1 || x=yes
echo "user $x"
`, shellQuote(user), shellQuote(sums), statSignature)
	fmt.Fprintf(&b, `if [ -f %[1]s ]; then while IFS= read -r l || [ -n "$l" ]; do printf 'applied %%s\n' "$l"; done < %[1]s; fi`+"\n", shellQuote(marker))
	fmt.Fprintf(&b, `if [ -f %[1]s ]; then printf 'stopped %%s\n' "$(head -n 1 %[1]s | cut -c 1-200)"; fi`+"\n", shellQuote(stopped))
	// One systemctl for both states. is-enabled's answer is the unit file
	// state (enabled, disabled, static, masked, ...), and is-active's the
	// ActiveState, as the lab's systemd 252 shows; a unit systemd cannot find
	// has LoadState=not-found and an empty UnitFileState, where is-enabled
	// says "not-found" or nothing (252): "not-found" here. systemd prints the
	// properties in its own order, not the order asked.
	fmt.Fprintf(&b, `e= a= l=
st=$(systemctl show -p LoadState -p UnitFileState -p ActiveState -- %s 2>/dev/null) || st=
set -f
for k in $st; do case $k in LoadState=*) l=${k#*=} ;; UnitFileState=*) e=${k#*=} ;; ActiveState=*) a=${k#*=} ;; esac; done
set +f
[ "$l" != not-found ] || e=not-found
echo "enabled $e"; echo "active $a"
`, shellQuote(service+".service"))
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
		case "clock":
			// stat's signature of /proc/self/: its mtime is the second field.
			if parts := strings.Split(rest, ":"); len(parts) == 4 {
				f.Clock = parseClock(parts[1])
			}
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
