package provision

import (
	"fmt"
	"path"

	"github.com/dcctl/dcctl/remote"
)

// The facts script needs two small files of every host whole: the sums
// stamp and the applied marker. The shell reads a file with its read
// builtin, and dash's read takes one byte per system call: ~1400 calls,
// ~0.7 ms of a host's CPU in every run, more than the rest of the shell's
// own work. A program (cat) costs a fork and an exec, more still. What the
// shell reads in one go is a script it sources, so every script that
// writes the stamp or the marker also writes the facts cache: both files'
// content as two shell assignments, with their stat signatures. The facts
// script sources it only when it is what it claims to be: mode 0600, owned
// by the owner of both files (the user dcctl works as), and both files'
// signatures (size, times in nanoseconds, inode: any write changes one)
// still those it records. Otherwise, or when it cannot be sourced, the
// files are read as before. A dcctl that knows no cache writes the files
// without it: their signatures then differ and the cache is ignored.

// factsCachePath is the facts cache beside the sums stamp.
func factsCachePath(sums string) string {
	return path.Join(path.Dir(sums), ".dcctl-facts")
}

// factsCacheScript writes the facts cache of sums and marker, or removes it
// while either file is missing. It never fails: a missing cache costs the
// next facts a byte-wise read. It runs in a subshell of its own (its
// positional parameters are its own) and prints nothing.
func factsCacheScript(sums, marker string) string {
	return fmt.Sprintf(`(k=%[3]s; t="$k"%[4]s
if [ -f %[1]s ] && [ -f %[2]s ] && set -- $(stat -c '%[5]s' -- %[1]s %[2]s) && [ $# = 2 ]; then
	(umask 077 && awk -v q="'" -v a="$1" -v b="$2" 'BEGIN { printf "cs=%%s%%s%%s\ncm=%%s%%s%%s\ns=%%s\n", q, a, q, q, b, q, q }
FILENAME == ARGV[2] && !m { printf "%%s\nm=%%s", q, q; m = 1 }
{ gsub(q, q "\\\\" q q); print }
END { if (!m) printf "%%s\nm=%%s", q, q; printf "%%s\nok=1\n", q }' %[1]s %[2]s > "$t") && mv -f -- "$t" "$k" || rm -f -- "$t" "$k"
elif [ -e "$k" ]; then rm -f -- "$k"; fi) 2>/dev/null || true`,
		shellQuote(sums), shellQuote(marker), shellQuote(factsCachePath(sums)), shellQuote(remote.TempSuffix), statSignature)
}

// factsCacheRead is the facts script's part that sets s (a newline, then
// the stamp's lines, each ending in a newline) and m (the marker's lines)
// from the cache or from the files, with f the stamp, g the marker and k
// the cache; st holds stat's lines, the cache's, the stamp's and the
// marker's first when kv is set. Lines of those three that stay in st are
// skipped by the caller.
const factsCacheRead = `take() { l=${r%%"$nl"*}; case $r in *"$nl"*) r=${r#*"$nl"} ;; *) r= ;; esac; }
if [ -n "$kv" ]; then
	kv= r=$st
	take; set -- $l; ks=$1 km=$2 ko=$3 kp=${l#"$1 $2 $3 $4 "}
	take; set -- $l; fs=$1 fo=$3 fp=${l#"$1 $2 $3 $4 "}
	take; set -- $l; ms=$1 mo=$3 mp=${l#"$1 $2 $3 $4 "}
	if [ "$kp" = "$k" ] && [ "$fp" = "$f" ] && [ "$mp" = "$g" ] && [ "$km" = 600 ] && [ -n "$ko" ] && [ "$ko" = "$fo" ] && [ "$ko" = "$mo" ]; then
		ok= cs= cm= s= m=
		command . "$k" 2>/dev/null && [ "$ok" = 1 ] && [ "$cs" = "$fs" ] && [ "$cm" = "$ms" ] && kv=1 && st=$r
	fi
fi
if [ -z "$kv" ]; then
	s=$nl; [ ! -f "$f" ] || while IFS= read -r l || [ -n "$l" ]; do s="$s$l$nl"; done < "$f"
	m=; [ ! -f "$g" ] || while IFS= read -r l || [ -n "$l" ]; do m="$m$l$nl"; done < "$g"
fi
`
