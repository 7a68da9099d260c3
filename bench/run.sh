#!/usr/bin/env bash
# bench/run.sh: dcctl provision against an equivalent Ansible playbook and the
# physical floor, on the local lab, at several sizes. Prints medians and ratios,
# writes bench/results/{raw.tsv,summary.txt,hosts.dat,hosts.png}. See
# docs/performance.md. Needs root (the lab); not part of scripts/test.sh.
#
#   bash bench/run.sh                 every size in $SIZES, then the report
#   bash bench/run.sh round N R       round R at N hosts (the caller holds the lab lock;
#                                     round 1 starts from a fresh lab)
#   bash bench/run.sh report          medians, ratios and chart from raw.tsv
#
# Environment: ROUNDS (3), SIZES ("10 25 50"), ANSIBLE_SIZES ("10 25": Ansible
# at 50 hosts takes minutes per round on a small machine), RESULTS (bench/results),
# KEEP=1 (add to raw.tsv instead of starting it anew), DCCTL_FLAGS (extra flags
# of dcctl provision, e.g. "--gate-timeout 30s"), FLOOR_TIMEOUT (120 s),
# TRANSFER (sftp or exec: how dcctl uploads; unset, the default sftp; "both":
# dcctl runs both ways in each round, sftp recorded as dcctl-*, exec as
# dcctl-exec-*), BASELINE (another dcctl binary, e.g. one built from an
# older commit: it runs fresh + no-op in each round too, recorded as
# dcctl-base-*, before or after this tree's dcctl alternating by round, so
# that a change is measured against its parent in the same rounds),
# HOST_OPENSSL=0 (no openssl program on the hosts for the round: the
# lab's image has one, as a Debian host with ca-certificates has, and
# dcctl hashes uploads with it on the host; without it, with sha256sum,
# as on a minimal host), HOSTCPU_DETAIL=1
# (each fresh run's host CPU by cgroup, summed over hosts, into
# /var/tmp/dcctl-bench/log/N-R-WHAT.hostcpu), ACCT=1 (process accounting
# of each fresh run, dcctl's and the floor's: every program the hosts ran,
# with its CPU, from the kernel's acct records (the acct package; the
# lab's hosts are processes of this machine), summed per program over the
# hosts into log/N-R-WHAT.acct and side by side into $RESULTS/acct.txt;
# the kernel counts a process's CPU in 10 ms ticks, rounded down). A run
# that fails (a cluster never healthy) is recorded as <what>-failed, not as
# a figure.
#
# Each size starts on a fresh lab (lab/lab down; lab/lab up N); per round,
# alternating which tool goes first: dcctl fresh + no-op, Ansible fresh + no-op,
# and the floors:
#   push      the binary to every host in parallel, one fresh OpenSSH
#             connection each (cat > path);
#   start     every unit started at once with its files in place, until the
#             topology is up as a fresh provision waits for it: every /healthz
#             200, every node a current meta peer as its leader sees it, every
#             leaf node's leafnode links up (bench/floorwait polls the
#             monitoring endpoints through port forwards of the SSH
#             connections opened beforehand); floor-healthz is when
#             every /healthz first answered 200 (the earlier, weaker finish);
#   no-op     one short facts script (stat of the files and directories, the
#             sums stamp, the unit's state) per host, one fresh OpenSSH
#             connection each, all at once: the one-round-trip floor.
#   fresh     the floor of a fresh provision in one run, to the same finish
#             line: on reset hosts, one OpenSSH connection per host (with
#             the port forward of its monitoring endpoint), the nats user
#             created and everything provision installs extracted from one
#             tar per host (bench/floortar: binary, configs, certificates,
#             unit, the owned directories, with their owners and modes);
#             once every host has its files, every unit started at once
#             over the same connections, until the topology is up
#             (bench/floorwait). No verification, no fsync, no lock.
#             Its phases are recorded too: floor-fresh-dial (every host
#             connected), floor-fresh-files (every host's files in place).
# Each timed tool's output lines are stamped with the seconds since its
# start in its log; a fresh dcctl run's phases are read off them: WHAT-plan
# (the plan printed: dial, lock, facts), -installed (the last host's files
# installed and unit enabled), -started (the last first start), -up (the
# last node healthy with its leafnode links). The report prints them beside
# the floor's, round by round.
# The old floor = push + start, two runs added up; "floor-fresh" is one run,
# next to dcctl's fresh run in the same round (which first alternating by
# round). "Fresh" means the hosts were reset first: unit stopped, files,
# directories, store and user removed. Each round records the load average
# (1 minute) at its start and end, and each fresh run the CPU time the lab's
# hosts used during it (their cgroup's usage_usec; "-hostcpu"), which the
# machine's other load stretches far less than the wall time, and each
# timed tool run its own CPU ("-selfcpu").
#
# The lab is shared: `all` takes /tmp/dcctl-lab.lock for one round at a time
# (flock -o, so the lab's processes do not inherit it), waits while an e2e
# run is going, and leaves the lab down.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
ROUNDS=${ROUNDS:-3}
SIZES=${SIZES:-"10 25 50"}
ANSIBLE_SIZES=${ANSIBLE_SIZES-"10 25"} # empty: no Ansible runs
RESULTS=${RESULTS:-bench/results}
LOCK=/tmp/dcctl-lab.lock
WORK=/var/tmp/dcctl-bench
PYCACHE=/var/cache/dcctl-bench
INV=lab/inventory.toml
DCCTL_FLAGS=${DCCTL_FLAGS:-}        # e.g. --gate-timeout 30s
FLOOR_TIMEOUT=${FLOOR_TIMEOUT:-120} # seconds for every /healthz to answer 200
TRANSFER=${TRANSFER:-}              # sftp, exec or both: dcctl's upload transfer (default: the inventory's, sftp)
BASELINE=${BASELINE:-}              # another dcctl binary to run beside bin/dcctl (dcctl-base-*)
HOST_OPENSSL=${HOST_OPENSSL:-}      # 0: the hosts' openssl hidden for the round (sha256sum hashes uploads)
HOSTCPU_DETAIL=${HOSTCPU_DETAIL:-}  # 1: each fresh run's host CPU by cgroup into $WORK/log/*.hostcpu
ACCT=${ACCT:-}                      # 1: each fresh run's host programs (process accounting) into $WORK/log/*.acct

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}
[[ -z $TRANSFER || $TRANSFER == sftp || $TRANSFER == exec || $TRANSFER == both ]] || die "TRANSFER must be sftp, exec or both, not $TRANSFER"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# record SIZE ROUND WHAT SECONDS [RSS_KB]
record() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:--}" >>"$RESULTS/raw.tsv"
	log "$(printf 'n=%-3s round %s  %-14s %7.2f s%s' "$1" "$2" "$3" "$4" "${5:+  rss ${5} KB}")"
}

prereqs() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (the lab needs it)"
	local missing=()
	command -v ansible-playbook >/dev/null || missing+=(ansible-core)
	command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
	[[ -z $ACCT ]] || command -v dump-acct >/dev/null || missing+=(acct)
	[[ -x /usr/bin/time ]] || missing+=(time)
	if ((${#missing[@]})); then
		log "installing ${missing[*]} from Debian"
		apt-get install -y -q "${missing[@]}" >/dev/null
	fi
}

build() {
	log "building bin/dcctl, bin/nats-server and the Ansible inventory generator"
	go build -o bin/dcctl ./cmd/dcctl
	[[ -x bin/nats-server ]] || go build -o bin/nats-server github.com/nats-io/nats-server/v2
	mkdir -p "$WORK"
	go build -o "$WORK/ansible-inventory" ./bench/ansible-inventory
	go build -o "$WORK/floorwait" ./bench/floorwait
	go build -o "$WORK/floortar" ./bench/floortar
}

# python_tar: the lab's base image has no Python, which Ansible needs on its
# targets. Debian's python3 packages (those the base lacks) are unpacked into
# one tar, byte-compiled here, and streamed to each host before timing.
python_tar() {
	local tar=$PYCACHE/python3.tar base=/var/cache/dcctl-lab/bookworm-v2
	[[ -f $tar ]] && return
	log "preparing Python for the Ansible targets (Debian's python3 debs)"
	[[ -f $base/var/lib/dpkg/status ]] || die "no lab base image at $base (run lab/lab base)"
	mkdir -p "$PYCACHE/debs/partial"
	apt-get -q -y --no-install-recommends --download-only \
		-o Dir::State::status="$base/var/lib/dpkg/status" -o Dir::Cache::archives="$PYCACHE/debs" \
		install python3 >/dev/null
	local root=$PYCACHE/root d
	rm -rf "$root" && mkdir -p "$root"
	for d in "$PYCACHE"/debs/*.deb; do dpkg-deb -x "$d" "$root"; done
	/usr/bin/python3 -m compileall -q "$root/usr/lib/python3.11" >/dev/null 2>&1 || true
	tar -C "$root" -cf "$tar.tmp" usr etc && mv "$tar.tmp" "$tar"
}

# --- hosts ----------------------------------------------------------------

SSH_OPTS=()
HOSTS=()   # every host address
ALLNAMES=() # every host's node name
STARTED=() # addresses of nodes provision starts (not standby)
NAMES=()   # their node names
HTTP=()    # their monitoring addresses, as seen on the host
FLOOR_PORT=${FLOOR_PORT:-27000} # first local port of the floor's forwards

load_hosts() {
	# The floors' OpenSSH connections use the key exchange and cipher dcctl's
	# client agrees with the hosts' sshd (curve25519, AES-GCM), not OpenSSH's
	# dearer defaults (sntrup761, ChaCha20-Poly1305): the same work on the
	# wire and in the hosts' sshd, the floor no slower for its client.
	SSH_OPTS=(-i lab/id_ed25519 -o UserKnownHostsFile=lab/known_hosts -o StrictHostKeyChecking=yes
		-o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR
		-o KexAlgorithms=curve25519-sha256 -o Ciphers=aes128-gcm@openssh.com)
	HOSTS=() ALLNAMES=() STARTED=() NAMES=() HTTP=()
	local line host http standby
	while read -r line; do
		host=$(sed -n 's/.* ansible_host=\([^ ]*\).*/\1/p' <<<"$line")
		http=$(sed -n 's/.* nats_http=\([^ ]*\).*/\1/p' <<<"$line")
		standby=$(sed -n 's/.* nats_standby=\([^ ]*\).*/\1/p' <<<"$line")
		HOSTS+=("$host")
		ALLNAMES+=("${line%% *}")
		if [[ $standby != true ]]; then
			STARTED+=("$host")
			NAMES+=("${line%% *}")
			HTTP+=("$http")
		fi
	done < <(grep ' ansible_host=' "$WORK/hosts.ini")
	((${#HOSTS[@]})) || die "no hosts in $WORK/hosts.ini"
}

var() { sed -n "s/^$1=//p" "$WORK/hosts.ini"; }

# on_all CMD [STDIN_FILE]: CMD on every host in parallel; fails if any fails.
on_all() {
	local h pids=() fail=0
	for h in "${HOSTS[@]}"; do
		if [[ -n ${2:-} ]]; then
			ssh "${SSH_OPTS[@]}" "root@$h" "$1" <"$2" &
		else
			ssh "${SSH_OPTS[@]}" -n "root@$h" "$1" &
		fi
		pids+=($!)
	done
	for h in "${pids[@]}"; do wait "$h" || fail=1; done
	return $fail
}

# reset: back to a host dcctl has never touched (Python for Ansible stays).
reset_hosts() {
	local svc bin cfg store unit user
	svc=$(var nats_service) bin=$(var nats_install_path) cfg=$(var nats_config_dir)
	store=$(var nats_store_dir) unit=$(var nats_unit) user=$(var nats_user)
	on_all "systemctl kill -s KILL $svc 2>/dev/null; systemctl disable --now $svc >/dev/null 2>&1
rm -rf $unit $bin $bin.dcctl-tmp $cfg $store
userdel $user 2>/dev/null; groupdel $user 2>/dev/null
systemctl daemon-reload; systemctl reset-failed 2>/dev/null; true"
	sync # no write-back of one step's files slows the next
	sleep 1
}

# --- process accounting (ACCT=1) -------------------------------------------

# lab_pids: every process in the lab's cgroups now (the hosts' systemd,
# sshd listeners, nats-servers...): the roots the hosts' short-lived
# processes descend from.
lab_pids() {
	{ find /sys/fs/cgroup/*/dcctl-lab /sys/fs/cgroup/dcctl-lab -name cgroup.procs -exec cat {} + 2>/dev/null || true; } | sort -u
}

# lab_sessions: processes in the hosts' login sessions now (sshd serving a
# connection and what it runs).
lab_sessions() {
	{ find /sys/fs/cgroup/*/dcctl-lab /sys/fs/cgroup/dcctl-lab -path '*/user.slice/*' -name cgroup.procs \
		-exec cat {} + 2>/dev/null || true; } | grep -c . || true
}

# acct_on BASE: accounting into BASE.pacct from now, the lab's processes
# into BASE.pids.
acct_on() {
	[[ -n $ACCT ]] || return 0
	lab_pids >"$1.pids"
	: >"$1.pacct"
	accton "$1.pacct" >/dev/null
}

# acct_off BASE: once the hosts' login sessions have ended (their sshd
# records its CPU when it exits; 5 s at most), accounting off; every
# record whose parents lead to a lab process is a host's: summed per
# program into BASE.acct (program, processes, CPU seconds).
acct_off() {
	[[ -n $ACCT ]] || return 0
	local deadline=$((SECONDS + 5))
	while (($(lab_sessions) > 0 && SECONDS < deadline)); do sleep 0.1; done
	accton off >/dev/null
	lab_pids >>"$1.pids"
	dump-acct "$1.pacct" | awk -F'|' -v pids="$1.pids" '
		BEGIN { while ((getline p <pids) > 0) lab[p + 0] = 1 }
		{ gsub(/ /, "", $1); n++; comm[n] = $1; cpu[n] = $3 + $4; pid[n] = $10 + 0; ppid[$10 + 0] = $11 + 0 }
		function host(p,   i) { for (i = 0; i < 64 && p > 1; i++) { if (p in lab) return 1; if (!(p in ppid)) return 0; p = ppid[p] } return 0 }
		END {
			for (i = 1; i <= n; i++) if (host(pid[i])) { c[comm[i]]++; t[comm[i]] += cpu[i] / 100 }
			for (k in c) printf "%-16s %5d %8.2f\n", k, c[k], t[k]
		}' | sort -k3,3nr -k1,1 >"$1.acct"
}

# acct_table N R A B: the per-program table of two fresh runs of a round
# side by side (processes and CPU seconds over every host).
acct_table() {
	local a="$WORK/log/$1-$2-$3.acct" b="$WORK/log/$1-$2-$4.acct"
	[[ -f $a && -f $b ]] || return 0
	printf '%s hosts, round %s: the hosts\x27 programs, processes and CPU seconds (acct, 10 ms ticks)\n' "$1" "$2"
	awk -v a="$3" -v b="$4" '
		FNR == 1 { f++ }
		{ k[$1] = 1; n[f, $1] = $2; c[f, $1] = $3; tot[f] += $3; cnt[f] += $2 }
		END {
			printf "  %-16s %16s %16s %8s\n", "program", a, b, "diff s"
			for (p in k) printf "  %-16s %6d %8.2f s %6d %8.2f s %+8.2f\n", p, n[1, p], c[1, p], n[2, p], c[2, p], c[1, p] - c[2, p]
			printf "  %-16s %6d %8.2f s %6d %8.2f s %+8.2f\n", "total", cnt[1], tot[1], cnt[2], tot[2], tot[1] - tot[2]
		}' "$a" "$b" | awk 'NR == 1 { print; next } { print | "sort -k3,3nr" }'
}

# --- the measured runs ----------------------------------------------------

# lab_cpu: CPU seconds the lab's hosts used so far (their cgroup), or "-".
lab_cpu() {
	awk '/^usage_usec/ { printf "%.3f", $2 / 1e6; found = 1 } END { if (!found) print "-" }' \
		/sys/fs/cgroup/unified/dcctl-lab/cpu.stat /sys/fs/cgroup/dcctl-lab/cpu.stat 2>/dev/null || echo -
}

# lab_cpu_by FILE: with HOSTCPU_DETAIL=1, the hosts' CPU so far by cgroup
# (sshd, nats-server, systemd, the login sessions...), summed over hosts,
# into FILE (microseconds).
lab_cpu_by() {
	[[ -n $HOSTCPU_DETAIL ]] || return 0
	local root=/sys/fs/cgroup/unified/dcctl-lab h
	for h in "$root"/*/; do
		find "$h" -maxdepth 3 -name cpu.stat -printf '%P\n' | while read -r f; do
			printf '%s %s\n' "$(dirname "$f")" "$(awk '/^usage_usec/ { print $2 }' "$h/$f")"
		done
	done | awk '{ s[$1] += $2 } END { for (k in s) print k, s[k] }' | LC_ALL=C sort >"$1"
}

# record_cpu N R WHAT C0 C1: the hosts' CPU between two lab_cpu readings
# (and, with HOSTCPU_DETAIL=1, by cgroup into the run's .hostcpu file).
record_cpu() {
	[[ $4 == - || $5 == - ]] && return 0
	record "$1" "$2" "$3-hostcpu" "$(elapsed "$4" "$5")"
	if [[ -n $HOSTCPU_DETAIL ]]; then
		LC_ALL=C join -a2 -e0 -o 0,1.2,2.2 "$WORK/cpu0" "$WORK/cpu1" |
			awk '{ d = ($3 - $2) / 1e6; if (d >= 0.005) printf "%8.3f %s\n", d, $1 }' | sort -rn >"$WORK/log/$1-$2-$3.hostcpu"
	fi
}

# record_load N R WHAT: the 1-minute load average now.
record_load() {
	record "$1" "$2" "$3" "$(cut -d' ' -f1 /proc/loadavg)"
}

# stamp: each line of stdin prefixed with the seconds since stamp started
# (perl-base is on every Debian machine; Time::HiRes is in it).
stamp() { perl -MTime::HiRes=time -ne 'BEGIN { $| = 1; $t0 = time } printf "%7.3f %s", time - $t0, $_'; }

# phases N R WHAT: from a fresh dcctl run's stamped log, when its phases
# ended: the plan printed (dial, lock, facts), the last host installed
# (uploads, checks, renames, enable), the last first start, the last node
# up (healthy, leafnode links); recorded as WHAT-plan, -installed,
# -started, -up (seconds from the start of the run).
phases() {
	local f="$WORK/log/$1-$2-$3.log" p v
	[[ -f $f ]] || return 0
	for p in plan installed started up; do
		v=$(awk -v p="$p" '
			p == "plan" && / hosts? to change/ { t = $1 }
			p == "installed" && / enabled / { t = $1 }
			p == "started" && / started .* \(/ { t = $1 }
			p == "up" && (/ healthy \(/ || / leafnode links up /) { t = $1 }
			END { if (t != "") print t }' "$f")
		[[ -n $v ]] && record "$1" "$2" "$3-$p" "$v"
	done
	return 0
}

# timed NAME SIZE ROUND CMD...: wall time and peak RSS of CMD, output to a log.
timed() {
	local name=$1 n=$2 r=$3 t0 t1 c0 c1 logf="$WORK/log/$2-$3-$1.log"
	shift 3
	[[ $name == *-fresh ]] && acct_on "${logf%.log}"
	lab_cpu_by "$WORK/cpu0"
	c0=$(lab_cpu)
	t0=$(now)
	# Each output line stamped with the seconds since the start (stamp), so
	# that a run's phases can be read off its log (phases).
	if ! /usr/bin/time -f '%U %S %M' -o "$WORK/rss" "$@" 2>&1 | stamp >"$logf"; then
		# Recorded under another name (not a figure for the medians), and on.
		t1=$(now)
		[[ $name == *-fresh ]] && acct_off "${logf%.log}"
		tail -4 "$logf" >&2
		log "$name failed (log: $logf)"
		record "$n" "$r" "$name-failed" "$(elapsed "$t0" "$t1")" "$(tail -1 "$WORK/rss" | awk '{ print $3 }')"
		return 0
	fi
	t1=$(now)
	c1=$(lab_cpu)
	lab_cpu_by "$WORK/cpu1"
	[[ $name == *-fresh ]] && acct_off "${logf%.log}"
	record "$n" "$r" "$name" "$(elapsed "$t0" "$t1")" "$(tail -1 "$WORK/rss" | awk '{ print $3 }')"
	# dcctl's own CPU (user + system), on the same CPUs as the hosts.
	record "$n" "$r" "$name-selfcpu" "$(tail -1 "$WORK/rss" | awk '{ printf "%.2f", $1 + $2 }')"
	if [[ $name == *-fresh ]]; then
		record_cpu "$n" "$r" "$name" "$c0" "$c1"
		[[ $name == dcctl* ]] && phases "$n" "$r" "$name"
	fi
	return 0
}

# dcctl_runs N R [PREFIX [BINARY]]: fresh and no-op, recorded as
# PREFIX-fresh and PREFIX-noop (default dcctl, bin/dcctl); the caller has
# reset the hosts.
dcctl_runs() {
	local n=$1 r=$2 p=${3:-dcctl} bin=${4:-bin/dcctl}
	# shellcheck disable=SC2086 # DCCTL_FLAGS is a list of flags
	timed "$p-fresh" "$n" "$r" "$bin" provision $DCCTL_FLAGS "$INV"
	timed "$p-noop" "$n" "$r" "$bin" provision $DCCTL_FLAGS "$INV"
	grep -q 'changed=[1-9]' "$WORK/log/$n-$r-$p-noop.log" && log "warning: dcctl no-op run changed something"
	return 0
}

# set_transfer sftp|exec|"": the inventory's upload transfer (the lab writes
# the inventory without one: dcctl's default).
set_transfer() {
	sed -i '/^transfer = /d' "$INV"
	if [[ -n $1 ]]; then
		sed -i "/^\[defaults\]\$/a transfer = \"$1\"" "$INV"
	fi
}

# dcctl_both N R: with TRANSFER=both, dcctl over sftp and over exec, which
# first alternating by round; otherwise the one transfer chosen.
dcctl_both() {
	local n=$1 r=$2 t
	if [[ $TRANSFER != both ]]; then
		dcctl_runs "$n" "$r"
		return
	fi
	for t in $( ((r % 2)) && echo sftp exec || echo exec sftp); do
		set_transfer "$t"
		reset_hosts
		if [[ $t == sftp ]]; then dcctl_runs "$n" "$r"; else dcctl_runs "$n" "$r" dcctl-exec; fi
	done
	set_transfer sftp
}

ansible_runs() {
	local n=$1 r=$2 cp
	for what in ansible-fresh ansible-noop; do
		# A new control directory per run: no SSH connection is reused across
		# runs (dcctl cannot reuse one either); the masters are closed after.
		cp=$(mktemp -d "$WORK/cp.XXXXXX")
		ANSIBLE_CONFIG=bench/ansible.cfg ANSIBLE_SSH_CONTROL_PATH_DIR=$cp \
			timed "$what" "$n" "$r" ansible-playbook -i "$WORK/hosts.ini" bench/provision.yml
		for s in "$cp"/*; do [[ -S $s ]] && ssh -o ControlPath="$s" -O exit x 2>/dev/null; done
		rm -rf "$cp"
	done
	grep -Eq 'changed=[1-9]' "$WORK/log/$n-$r-ansible-noop.log" && log "warning: Ansible no-op run changed something"
	return 0
}

# floor_push: the binary to every host at once, one fresh SSH connection each.
floor_push() {
	local n=$1 r=$2 t0 t1 bin
	bin=$(var nats_install_path)
	t0=$(now)
	on_all "cat > $bin && chmod 755 $bin" bin/nats-server
	t1=$(now)
	record "$n" "$r" floor-push "$(elapsed "$t0" "$t1")"
}

# floor_start: with every file in place (after dcctl's runs), stop the units
# and empty the stores, open SSH connections (untimed), then start every unit
# at once and wait until the topology is up (bench/floorwait).
floor_start() {
	local n=$1 r=$2 t0 t1 cp h svc store ok=1 healthz
	svc=$(var nats_service) store=$(var nats_store_dir)
	on_all "systemctl kill -s KILL $svc 2>/dev/null; systemctl stop $svc; rm -rf $store/*"
	cp=$(mktemp -d "$WORK/cp.XXXXXX")
	# Each node's monitoring endpoint through a port forward of its SSH
	# connection (it listens on 127.0.0.1 unless nats.monitoring = "host").
	local i=0 at=()
	for h in "${STARTED[@]}"; do
		ssh "${SSH_OPTS[@]}" -o ControlMaster=yes -o ControlPath="$cp/$h" -o ControlPersist=120 \
			-L "127.0.0.1:$((FLOOR_PORT + i)):${HTTP[$i]}" -fN "root@$h"
		at+=("${NAMES[$i]}=127.0.0.1:$((FLOOR_PORT + i))")
		i=$((i + 1))
	done
	t0=$(now)
	local pids=()
	for h in "${STARTED[@]}"; do
		ssh "${SSH_OPTS[@]}" -o ControlPath="$cp/$h" -n "root@$h" "systemctl start $svc" &
		pids+=($!)
	done
	"$WORK/floorwait" "$INV" "$FLOOR_TIMEOUT" "${at[@]}" >"$WORK/floorwait.out" 2>"$WORK/log/$n-$r-floor-start.log" || ok=0
	for h in "${pids[@]}"; do wait "$h"; done
	t1=$(now)
	if ((ok)); then
		record "$n" "$r" floor-start "$(elapsed "$t0" "$t1")"
	else
		# Recorded as missing (not a figure), with what the hosts said.
		log "floor start: topology not up after $FLOOR_TIMEOUT s (see $WORK/log/$n-$r-floor-start.log)"
		for h in "${STARTED[@]}"; do
			echo "== $h"
			ssh "${SSH_OPTS[@]}" -n "root@$h" "systemctl status --no-pager -n 20 $svc" 2>&1
		done >>"$WORK/log/$n-$r-floor-start.log"
		record "$n" "$r" floor-start-failed "$(elapsed "$t0" "$t1")"
	fi
	healthz=$(sed -n 's/^healthz //p' "$WORK/floorwait.out")
	[[ -n $healthz ]] && record "$n" "$r" floor-healthz "$(elapsed "$t0" "$healthz")"
	for h in "${STARTED[@]}"; do ssh -o ControlPath="$cp/$h" -O exit "root@$h" 2>/dev/null || true; done
	rm -rf "$cp"
}

# floor_fresh N R: the floor of a fresh provision, to the same finish line,
# in one timed run (see the head of this file); the caller has reset the
# hosts. Every host gets its files, the started ones are started and waited
# for, as provision does.
floor_fresh() {
	local n=$1 r=$2 t0 t1 td tf c0 c1 cp i h ok=1 fail=0 svc user pids=() at=()
	svc=$(var nats_service) user=$(var nats_user)
	declare -A fwd=()
	for ((i = 0; i < ${#STARTED[@]}; i++)); do
		fwd[${STARTED[$i]}]="127.0.0.1:$((FLOOR_PORT + i)):${HTTP[$i]}"
		at+=("${NAMES[$i]}=127.0.0.1:$((FLOOR_PORT + i))")
	done
	cp=$(mktemp -d "$WORK/cp.XXXXXX")
	acct_on "$WORK/log/$n-$r-floor-fresh"
	lab_cpu_by "$WORK/cpu0"
	c0=$(lab_cpu)
	t0=$(now)
	for h in "${HOSTS[@]}"; do
		ssh "${SSH_OPTS[@]}" -o ControlMaster=yes -o ControlPath="$cp/$h" -o ControlPersist=120 \
			${fwd[$h]:+-L "${fwd[$h]}"} -fN "root@$h" &
		pids+=($!)
	done
	for h in "${pids[@]}"; do wait "$h" || fail=1; done
	td=$(now)
	pids=()
	for ((i = 0; i < ${#HOSTS[@]}; i++)); do
		h=${HOSTS[$i]}
		ssh "${SSH_OPTS[@]}" -o ControlPath="$cp/$h" "root@$h" \
			"{ id -u $user >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin $user; } && tar -x -C /" \
			<"$WORK/tars/${ALLNAMES[$i]}.tar" &
		pids+=($!)
	done
	for h in "${pids[@]}"; do wait "$h" || fail=1; done
	tf=$(now)
	pids=()
	if ((fail == 0)); then
		for h in "${STARTED[@]}"; do
			ssh "${SSH_OPTS[@]}" -o ControlPath="$cp/$h" -n "root@$h" "systemctl start $svc" &
			pids+=($!)
		done
		"$WORK/floorwait" "$INV" "$FLOOR_TIMEOUT" "${at[@]}" >"$WORK/floorwait.out" 2>"$WORK/log/$n-$r-floor-fresh.log" || ok=0
		for h in "${pids[@]}"; do wait "$h" || ok=0; done
	fi
	t1=$(now)
	c1=$(lab_cpu)
	lab_cpu_by "$WORK/cpu1"
	if ((ok && !fail)); then
		record "$n" "$r" floor-fresh "$(elapsed "$t0" "$t1")"
		record_cpu "$n" "$r" floor-fresh "$c0" "$c1"
		# Its phases, as dcctl's are recorded (phases): connected, every
		# host's files in place.
		record "$n" "$r" floor-fresh-dial "$(elapsed "$t0" "$td")"
		record "$n" "$r" floor-fresh-files "$(elapsed "$t0" "$tf")"
	else
		log "floor fresh: failed (fail=$fail; see $WORK/log/$n-$r-floor-fresh.log)"
		record "$n" "$r" floor-fresh-failed "$(elapsed "$t0" "$t1")"
	fi
	for h in "${HOSTS[@]}"; do ssh -o ControlPath="$cp/$h" -O exit "root@$h" 2>/dev/null || true; done
	acct_off "$WORK/log/$n-$r-floor-fresh"
	rm -rf "$cp"
}

# floor_noop: the one-round-trip floor of a no-op, with dcctl's files in
# place and the units running: one fresh OpenSSH connection per host, all at
# once, each running one short facts script.
floor_noop() {
	local n=$1 r=$2 t0 t1 cfg
	cfg=$(var nats_config_dir)
	t0=$(now)
	on_all "cat $cfg/.dcctl-sums $cfg/.dcctl-applied 2>/dev/null; id -u $(var nats_user); uname -m
stat -c '%s %Y %Z %i %a %U %G %n' $(var nats_install_path) $(var nats_config) $(var nats_leaf_remotes) $(var nats_unit) $cfg $(var nats_store_dir) 2>/dev/null
systemctl is-enabled $(var nats_service); systemctl is-active $(var nats_service); true" >/dev/null
	t1=$(now)
	record "$n" "$r" floor-noop "$(elapsed "$t0" "$t1")"
}

# prepare_round N FRESH: the lab of N hosts up (rebuilt when FRESH=1 or when
# it is not a healthy lab of N: another user of the lab may have replaced
# it between rounds), rendered files and the Ansible inventory for it.
prepare_round() {
	local n=$1 fresh=$2
	if ((fresh)); then
		log "size $n: fresh lab"
		lab/lab down >/dev/null
	fi
	lab/lab up "$n" >/dev/null
	# The lab writes its inventory; the upload transfer is chosen here.
	if [[ $TRANSFER == both ]]; then set_transfer sftp; else set_transfer "$TRANSFER"; fi
	# Only provision creates passwords and certificates: a first run,
	# untimed, makes them (and warms the caches), so that every tool
	# installs the same real files (placeholder passwords would be hashed at
	# a dearer bcrypt cost than provision's, slowing the floor's logins).
	if [[ ! -e ${INV%.toml}.secrets.toml ]]; then
		log "size $n: a first provision (untimed) for the passwords and certificates"
		# shellcheck disable=SC2086 # DCCTL_FLAGS is a list of flags
		bin/dcctl provision $DCCTL_FLAGS "$INV" >"$WORK/log/$n-warmup.log" 2>&1 || die "the untimed first provision failed (log: $WORK/log/$n-warmup.log)"
	fi
	rm -rf "$WORK/render" "$WORK/tars"
	bin/dcctl render "$INV" --out "$WORK/render" >/dev/null
	"$WORK/floortar" "$INV" "$WORK/tars"
	"$WORK/ansible-inventory" "$INV" "$WORK/render" >"$WORK/hosts.ini"
	load_hosts
	# A host with openssl hashes uploads with it (SHA instructions), as the
	# lab's image does; HOST_OPENSSL=0 hides it (a minimal host's sha256sum).
	if [[ $HOST_OPENSSL == 0 ]]; then
		on_all "[ ! -e /usr/bin/openssl ] || mv /usr/bin/openssl /usr/bin/openssl.hidden"
	else
		on_all "[ ! -e /usr/bin/openssl.hidden ] || mv /usr/bin/openssl.hidden /usr/bin/openssl"
	fi
}

# run_round N R: one round at one size; the caller holds the lab lock.
run_round() {
	local n=$1 r=$2 ansible=0 s
	for s in $ANSIBLE_SIZES; do [[ $s == "$n" ]] && ansible=1; done
	[[ -z $(pgrep -f e2e.test) ]] || die "an e2e run is going: the lab is theirs"
	[[ -x $WORK/ansible-inventory && -x $WORK/floorwait && -x $WORK/floortar && -x bin/dcctl ]] || build
	mkdir -p "$RESULTS" "$WORK/log"
	prepare_round "$n" "$((r == 1))"
	record_load "$n" "$r" load
	if ((ansible)); then
		python_tar
		on_all "[ -x /usr/bin/python3 ] || tar --no-overwrite-dir -x -C /" "$PYCACHE/python3.tar"
	fi
	if ((ansible && r % 2 == 0)); then
		reset_hosts
		ansible_runs "$n" "$r"
	fi
	if [[ -n $BASELINE ]] && ((r % 2 == 0)); then
		reset_hosts
		dcctl_runs "$n" "$r" dcctl-base "$BASELINE"
	fi
	# The fresh floor and dcctl's fresh run side by side, which first
	# alternating by round (the floor first in even rounds).
	if ((r % 2 == 0)); then
		reset_hosts
		floor_fresh "$n" "$r"
	fi
	reset_hosts
	dcctl_both "$n" "$r"
	floor_noop "$n" "$r"
	if ((r % 2 == 1)); then
		reset_hosts
		floor_fresh "$n" "$r"
	fi
	if [[ -n $BASELINE ]] && ((r % 2 == 1)); then
		reset_hosts
		dcctl_runs "$n" "$r" dcctl-base "$BASELINE"
	fi
	floor_start "$n" "$r"
	if ((ansible && r % 2 == 1)); then
		reset_hosts
		ansible_runs "$n" "$r"
	fi
	reset_hosts
	floor_push "$n" "$r"
	reset_hosts # nothing left to stop slowly: the next user's down is quick
	record_load "$n" "$r" load-end
	if [[ -n $ACCT ]]; then
		{
			acct_table "$n" "$r" dcctl-fresh floor-fresh
			[[ -z $BASELINE ]] || acct_table "$n" "$r" dcctl-fresh dcctl-base-fresh
		} >>"$RESULTS/acct.txt"
	fi
}

# --- report ---------------------------------------------------------------

median() { # SIZE WHAT [COLUMN]: median of raw.tsv's column (4: seconds, 5: RSS)
	awk -F'\t' -v n="$1" -v w="$2" -v c="${3:-4}" '$1 == n && $3 == w && $c != "-" { print $c }' "$RESULTS/raw.tsv" |
		sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# by_round SIZE: one line per round: the load average at its start and end,
# dcctl's fresh run against the fresh floor of the same round (wall time,
# and the hosts' CPU), against the old floor (push + start), and the no-op
# against the no-op floor; dcctl's baseline after a ";" where there is one.
# Then the median of each ratio over the rounds: rounds, not medians of
# times, because the load moves both sides of a round together.
by_round() {
	awk -F'\t' -v n="$1" '
	function r(a, b) { return (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "-" }
	function keep(name, x) { if (x != "-") { m[name, ++c[name]] = x + 0 } }
	function med(name,   k, i, j, t, v) {
		k = c[name]; if (k == 0) return "-"
		for (i = 1; i <= k; i++) v[i] = m[name, i]
		for (i = 2; i <= k; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
		return sprintf("%.2f", (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2)
	}
	$1 == n { v[$2, $3] = $4; rounds[$2] = 1 }
	END {
		nr = 0; for (k in rounds) ord[++nr] = k + 0
		for (i = 2; i <= nr; i++) { t = ord[i]; for (j = i - 1; j >= 1 && ord[j] > t; j--) ord[j + 1] = ord[j]; ord[j + 1] = t }
		for (i = 1; i <= nr; i++) {
			k = ord[i]
			fr = r(v[k, "dcctl-fresh"], v[k, "floor-fresh"]); keep("fr", fr)
			fc = r(v[k, "dcctl-fresh-hostcpu"], v[k, "floor-fresh-hostcpu"]); keep("fc", fc)
			old = r(v[k, "dcctl-fresh"], v[k, "floor-push"] + v[k, "floor-start"]); keep("old", old)
			no = r(v[k, "dcctl-noop"], v[k, "floor-noop"]); keep("no", no)
			line = sprintf("  round %s, load %s-%s: fresh %s s, floor %s s: fresh/floor %s (hosts CPU %s / %s s: %s; dcctl itself %s s), old floor (push+start) %s; no-op/floor %s",
				k, (k, "load") in v ? v[k, "load"] : "-", (k, "load-end") in v ? v[k, "load-end"] : "-",
				v[k, "dcctl-fresh"] == "" ? "-" : v[k, "dcctl-fresh"], v[k, "floor-fresh"] == "" ? "-" : v[k, "floor-fresh"], fr,
				v[k, "dcctl-fresh-hostcpu"] == "" ? "-" : v[k, "dcctl-fresh-hostcpu"], v[k, "floor-fresh-hostcpu"] == "" ? "-" : v[k, "floor-fresh-hostcpu"], fc,
				v[k, "dcctl-fresh-selfcpu"] == "" ? "-" : v[k, "dcctl-fresh-selfcpu"], old, no)
			if ((k, "dcctl-base-fresh") in v) {
				bf = r(v[k, "dcctl-base-fresh"], v[k, "floor-fresh"]); keep("bf", bf)
				bc = r(v[k, "dcctl-base-fresh-hostcpu"], v[k, "floor-fresh-hostcpu"]); keep("bc", bc)
				bn = r(v[k, "dcctl-base-noop"], v[k, "floor-noop"]); keep("bn", bn)
				db = r(v[k, "dcctl-fresh"], v[k, "dcctl-base-fresh"]); keep("db", db)
				line = line sprintf("; baseline fresh/floor %s (hosts CPU %s; its own %s s), no-op/floor %s; dcctl/baseline fresh %s", bf, bc,
					v[k, "dcctl-base-fresh-selfcpu"] == "" ? "-" : v[k, "dcctl-base-fresh-selfcpu"], bn, db)
			}
			print line
			if ((k, "dcctl-fresh-plan") in v && (k, "floor-fresh-files") in v) {
				printf "    phases (s from the start): dcctl plan %s, installed %s, started %s, up %s, done %s; floor connected %s, files %s, up %s\n",
					v[k, "dcctl-fresh-plan"], v[k, "dcctl-fresh-installed"], v[k, "dcctl-fresh-started"], v[k, "dcctl-fresh-up"], v[k, "dcctl-fresh"],
					v[k, "floor-fresh-dial"], v[k, "floor-fresh-files"], v[k, "floor-fresh"]
				if ((k, "dcctl-base-fresh-plan") in v)
					printf "    baseline, phases: plan %s, installed %s, started %s, up %s, done %s\n",
						v[k, "dcctl-base-fresh-plan"], v[k, "dcctl-base-fresh-installed"], v[k, "dcctl-base-fresh-started"], v[k, "dcctl-base-fresh-up"], v[k, "dcctl-base-fresh"]
			}
		}
		printf "  median of the rounds: fresh/floor %s, hosts CPU %s, old floor %s; no-op/floor %s", med("fr"), med("fc"), med("old"), med("no")
		if (c["bf"] > 0) printf "; baseline fresh/floor %s, hosts CPU %s, no-op/floor %s; dcctl/baseline fresh %s", med("bf"), med("bc"), med("bn"), med("db")
		printf "\n"
	}' "$RESULTS/raw.tsv"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

report() {
	[[ -s $RESULTS/raw.tsv ]] || die "no measurements in $RESULTS/raw.tsv"
	local sizes n df dn af an fp fs floor fn fh ff rss rn ef en bf bn
	sizes=$(cut -f1 "$RESULTS/raw.tsv" | sort -nu)
	{
		echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
		echo "medians over rounds (seconds; RSS in MB); fl-fresh = the fresh floor in one run; floor = push + start (to the topology up, the old floor); noop-fl = one round trip per host"
		printf '%5s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %11s %10s %10s %10s %8s %8s\n' hosts dc-fresh dc-noop an-fresh an-noop fl-fresh push start floor healthz noop-fl fresh/flfr noop/floor an/dc-fr an/dc-noop rss-fr rss-noop
		for n in $sizes; do
			df=$(median "$n" dcctl-fresh) dn=$(median "$n" dcctl-noop) af=$(median "$n" ansible-fresh) an=$(median "$n" ansible-noop)
			fp=$(median "$n" floor-push) fs=$(median "$n" floor-start) fh=$(median "$n" floor-healthz) fn=$(median "$n" floor-noop) ff=$(median "$n" floor-fresh)
			floor=$(awk -v a="$fp" -v b="$fs" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.3f", a + b }')
			rss=$(awk -v k="$(median "$n" dcctl-fresh 5)" 'BEGIN { if (k == "-") print "-"; else printf "%.0f", k / 1024 }')
			rn=$(awk -v k="$(median "$n" dcctl-noop 5)" 'BEGIN { if (k == "-") print "-"; else printf "%.0f", k / 1024 }')
			printf '%5s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %11s %10s %10s %10s %8s %8s\n' "$n" "$df" "$dn" "$af" "$an" "$ff" "$fp" "$fs" "$floor" "$fh" "$fn" \
				"$(ratio "$df" "$ff")" "$(ratio "$dn" "$fn")" "$(ratio "$af" "$df")" "$(ratio "$an" "$dn")" "$rss" "$rn"
			printf '%s %s %s %s %s %s %s\n' "$n" "$df" "$dn" "$af" "$an" "$floor" "$fp" >>"$RESULTS/hosts.dat.tmp"
			echo "   $n hosts, round by round:"
			by_round "$n"
			bf=$(median "$n" dcctl-base-fresh) bn=$(median "$n" dcctl-base-noop)
			if [[ $bf != - ]]; then
				echo "   $n hosts, baseline: fresh $bf, no-op $bn; fresh/floor $(ratio "$bf" "$floor"), no-op/floor $(ratio "$bn" "$fn"); dcctl / baseline: fresh $(ratio "$df" "$bf"), no-op $(ratio "$dn" "$bn")"
			fi
			ef=$(median "$n" dcctl-exec-fresh) en=$(median "$n" dcctl-exec-noop)
			if [[ $ef != - ]]; then
				echo "   $n hosts, transfer = exec: fresh $ef, no-op $en; exec / sftp: fresh $(ratio "$ef" "$df"), no-op $(ratio "$en" "$dn")"
			fi
		done
		local first last
		first=$(head -1 <<<"$sizes") last=$(tail -1 <<<"$sizes")
		if [[ $first != "$last" ]]; then
			echo "dcctl fresh at $last hosts / at $first hosts: $(ratio "$(median "$last" dcctl-fresh)" "$(median "$first" dcctl-fresh)")x;" \
				"no-op: $(ratio "$(median "$last" dcctl-noop)" "$(median "$first" dcctl-noop)")x"
		fi
	} | tee "$RESULTS/summary.txt"
	mv "$RESULTS/hosts.dat.tmp" "$RESULTS/hosts.dat"
	chart
}

chart() {
	gnuplot <<EOF
set terminal pngcairo size 900,560 font ",11"
set output "$RESULTS/hosts.png"
set title "Provisioning the lab: wall time against hosts (medians; log scale)"
set xlabel "hosts"
set ylabel "seconds"
set key top left
set grid
set datafile missing "-"
set xrange [0:*]
set logscale y
set yrange [0.2:*]
plot "$RESULTS/hosts.dat" using 1:6 with linespoints lw 2 dt 2 title "floor (parallel push + start until the topology is up)", \
     "" using 1:7 with linespoints lw 1 dt 3 title "floor: parallel push only", \
     "" using 1:2 with linespoints lw 2 title "dcctl provision, fresh", \
     "" using 1:3 with linespoints lw 2 title "dcctl provision, no-op", \
     "" using 1:4 with linespoints lw 2 title "Ansible playbook, fresh", \
     "" using 1:5 with linespoints lw 2 title "Ansible playbook, no-op"
EOF
	log "chart: $RESULTS/hosts.png"
}

case "${1:-all}" in
all)
	prereqs
	build
	mkdir -p "$RESULTS"
	[[ -n ${KEEP:-} ]] || : >"$RESULTS/raw.tsv" # KEEP=1 adds to the last run's figures
	[[ -n ${KEEP:-} || -z $ACCT ]] || : >"$RESULTS/acct.txt"
	for n in $SIZES; do
		for ((r = 1; r <= ROUNDS; r++)); do
			# One round per hold of the lock, so e2e runs can take the lab between.
			while [[ -n $(pgrep -f e2e.test) ]]; do
				log "an e2e run is going; waiting for it to end"
				sleep 10
			done
			flock -o "$LOCK" bash "$0" round "$n" "$r"
		done
	done
	flock -o "$LOCK" lab/lab down >/dev/null
	report
	;;
round) run_round "$2" "$3" ;;
report) report ;;
*) die "usage: bench/run.sh [all | round N R | report]" ;;
esac
