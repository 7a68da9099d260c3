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
# HOST_OPENSSL=1 (this machine's openssl program on every host for the
# round: the lab's image has none, a Debian host with ca-certificates
# has it; dcctl then hashes uploads with it on the host). A run
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
# floor = push + start. "Fresh" means the hosts were reset first: unit
# stopped, files, directories, store and user removed.
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
HOST_OPENSSL=${HOST_OPENSSL:-}      # 1: this machine's openssl on every host for the round (the lab's image has none)

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
}

# python_tar: the lab's base image has no Python, which Ansible needs on its
# targets. Debian's python3 packages (those the base lacks) are unpacked into
# one tar, byte-compiled here, and streamed to each host before timing.
python_tar() {
	local tar=$PYCACHE/python3.tar base=/var/cache/dcctl-lab/bookworm-v1
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
STARTED=() # addresses of nodes provision starts (not standby)
NAMES=()   # their node names
HTTP=()    # their monitoring addresses, as seen on the host
FLOOR_PORT=${FLOOR_PORT:-27000} # first local port of the floor's forwards

load_hosts() {
	SSH_OPTS=(-i lab/id_ed25519 -o UserKnownHostsFile=lab/known_hosts -o StrictHostKeyChecking=yes
		-o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR)
	HOSTS=() STARTED=() NAMES=() HTTP=()
	local line host http standby
	while read -r line; do
		host=$(sed -n 's/.* ansible_host=\([^ ]*\).*/\1/p' <<<"$line")
		http=$(sed -n 's/.* nats_http=\([^ ]*\).*/\1/p' <<<"$line")
		standby=$(sed -n 's/.* nats_standby=\([^ ]*\).*/\1/p' <<<"$line")
		HOSTS+=("$host")
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

# --- the measured runs ----------------------------------------------------

# timed NAME SIZE ROUND CMD...: wall time and peak RSS of CMD, output to a log.
timed() {
	local name=$1 n=$2 r=$3 t0 t1 logf="$WORK/log/$2-$3-$1.log"
	shift 3
	t0=$(now)
	if ! /usr/bin/time -f '%M' -o "$WORK/rss" "$@" >"$logf" 2>&1; then
		# Recorded under another name (not a figure for the medians), and on.
		t1=$(now)
		tail -4 "$logf" >&2
		log "$name failed (log: $logf)"
		record "$n" "$r" "$name-failed" "$(elapsed "$t0" "$t1")" "$(tail -1 "$WORK/rss")"
		return 0
	fi
	t1=$(now)
	record "$n" "$r" "$name" "$(elapsed "$t0" "$t1")" "$(tail -1 "$WORK/rss")"
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
	rm -rf "$WORK/render"
	# Only provision creates passwords; before dcctl's first run of a fresh
	# lab, Ansible's files carry placeholders (consistent among themselves).
	local placeholders=()
	[[ -e ${INV%.toml}.secrets.toml ]] || placeholders=(--placeholder-passwords)
	bin/dcctl render "$INV" --out "$WORK/render" "${placeholders[@]}" >/dev/null
	"$WORK/ansible-inventory" "$INV" "$WORK/render" >"$WORK/hosts.ini"
	load_hosts
	# A host with openssl hashes uploads with it (SHA instructions); the
	# lab's image has libssl3 but not the program: this machine's, untimed.
	if [[ -n $HOST_OPENSSL ]]; then
		on_all "cat > /usr/local/bin/openssl && chmod 755 /usr/local/bin/openssl" "$(command -v openssl)"
	else
		on_all "rm -f /usr/local/bin/openssl"
	fi
}

# run_round N R: one round at one size; the caller holds the lab lock.
run_round() {
	local n=$1 r=$2 ansible=0 s
	for s in $ANSIBLE_SIZES; do [[ $s == "$n" ]] && ansible=1; done
	[[ -z $(pgrep -f e2e.test) ]] || die "an e2e run is going: the lab is theirs"
	[[ -x $WORK/ansible-inventory && -x $WORK/floorwait && -x bin/dcctl ]] || build
	mkdir -p "$RESULTS" "$WORK/log"
	prepare_round "$n" "$((r == 1))"
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
	reset_hosts
	dcctl_both "$n" "$r"
	if [[ -n $BASELINE ]] && ((r % 2 == 1)); then
		reset_hosts
		dcctl_runs "$n" "$r" dcctl-base "$BASELINE"
	fi
	floor_noop "$n" "$r"
	floor_start "$n" "$r"
	if ((ansible && r % 2 == 1)); then
		reset_hosts
		ansible_runs "$n" "$r"
	fi
	reset_hosts
	floor_push "$n" "$r"
	reset_hosts # nothing left to stop slowly: the next user's down is quick
}

# --- report ---------------------------------------------------------------

median() { # SIZE WHAT [COLUMN]: median of raw.tsv's column (4: seconds, 5: RSS)
	awk -F'\t' -v n="$1" -v w="$2" -v c="${3:-4}" '$1 == n && $3 == w && $c != "-" { print $c }' "$RESULTS/raw.tsv" |
		sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# by_round SIZE: each round's fresh / (push + start) and no-op / no-op
# floor, dcctl's and the baseline's: the floor's start sometimes waits for
# a retried meta election, which medians across rounds hide.
by_round() {
	awk -F'\t' -v n="$1" '$1 == n { v[$2, $3] = $4; r[$2] = 1 }
		END { for (k in r) { f = v[k, "floor-push"] + v[k, "floor-start"]; if (f == 0) continue
			line = sprintf("r%s %.2f", k, v[k, "dcctl-fresh"] / f); if ((k, "dcctl-base-fresh") in v) line = line sprintf("; %.2f", v[k, "dcctl-base-fresh"] / f)
			if (v[k, "floor-noop"] > 0) { line = line sprintf(" noop %.2f", v[k, "dcctl-noop"] / v[k, "floor-noop"]); if ((k, "dcctl-base-noop") in v) line = line sprintf("; %.2f", v[k, "dcctl-base-noop"] / v[k, "floor-noop"]) }
			print line } }' "$RESULTS/raw.tsv" | sort | paste -sd ' ' | sed 's/ r/, r/g'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

report() {
	[[ -s $RESULTS/raw.tsv ]] || die "no measurements in $RESULTS/raw.tsv"
	local sizes n df dn af an fp fs floor fn fh rss rn ef en bf bn
	sizes=$(cut -f1 "$RESULTS/raw.tsv" | sort -nu)
	{
		echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
		echo "medians over rounds (seconds; RSS in MB); floor = push + start (to the topology up); noop-fl = one round trip per host"
		printf '%5s %8s %8s %8s %8s %8s %8s %8s %8s %8s %11s %10s %10s %10s %8s %8s\n' hosts dc-fresh dc-noop an-fresh an-noop push start floor healthz noop-fl fresh/floor noop/floor an/dc-fr an/dc-noop rss-fr rss-noop
		for n in $sizes; do
			df=$(median "$n" dcctl-fresh) dn=$(median "$n" dcctl-noop) af=$(median "$n" ansible-fresh) an=$(median "$n" ansible-noop)
			fp=$(median "$n" floor-push) fs=$(median "$n" floor-start) fh=$(median "$n" floor-healthz) fn=$(median "$n" floor-noop)
			floor=$(awk -v a="$fp" -v b="$fs" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.3f", a + b }')
			rss=$(awk -v k="$(median "$n" dcctl-fresh 5)" 'BEGIN { if (k == "-") print "-"; else printf "%.0f", k / 1024 }')
			rn=$(awk -v k="$(median "$n" dcctl-noop 5)" 'BEGIN { if (k == "-") print "-"; else printf "%.0f", k / 1024 }')
			printf '%5s %8s %8s %8s %8s %8s %8s %8s %8s %8s %11s %10s %10s %10s %8s %8s\n' "$n" "$df" "$dn" "$af" "$an" "$fp" "$fs" "$floor" "$fh" "$fn" \
				"$(ratio "$df" "$floor")" "$(ratio "$dn" "$fn")" "$(ratio "$af" "$df")" "$(ratio "$an" "$dn")" "$rss" "$rn"
			printf '%s %s %s %s %s %s %s\n' "$n" "$df" "$dn" "$af" "$an" "$floor" "$fp" >>"$RESULTS/hosts.dat.tmp"
			echo "   $n hosts, round by round, fresh/floor and noop/noop-floor (dcctl; baseline): $(by_round "$n")"
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
