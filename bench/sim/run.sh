#!/usr/bin/env bash
# bench/sim/run.sh: the simulation bench at several sizes, side by side in
# one run, and its chart. Writes bench/results/sim.tsv (one row per size:
# hosts fresh_s noop_s peak_rss_mb floor_s, the last the no-op's
# one-round-trip floor from stderr) and docs/sim-hosts.png. Needs root and
# gnuplot (Debian: gnuplot-nox). See docs/performance.md. PROFILES=DIR also
# writes each run's CPU profile there (sim-N.fresh, sim-N.noop, and the
# simulated hosts' SSH servers' sim-N.hosts.fresh, .noop; go tool pprof).
# BEFORE=FILE (a sim.tsv of an earlier run, kept under another name) draws
# that run's lines too, dashed, for a before/after chart. TSV and PNG name
# other files to write (or, for chart, to draw from and to).
#
#   bash bench/sim/run.sh            SIZES (default "10 100 1000"), then the chart
#   bash bench/sim/run.sh chart      the chart from bench/results/sim.tsv
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZES=${SIZES:-"10 100 1000"}
TSV=${TSV:-bench/results/sim.tsv}
PNG=${PNG:-docs/sim-hosts.png}

chart() {
	local plot='plot "'$TSV'" using 1:2 with linespoints lw 2 lc 1 title "fresh", \
     "" using 1:3 with linespoints lw 2 lc 2 title "no-op", \
     "" using 1:5 with linespoints lw 1 lc 3 dt 3 title "no-op floor (dial + one round trip per host)", \
     "" using 1:4 axes x1y2 with linespoints lw 2 lc 4 title "peak RSS (right axis)", \
     10 with lines lw 1 lc 7 dt 4 title "goal: no-op under 10 s at 1000 hosts"'
	if [[ -n ${BEFORE:-} ]]; then
		plot+=', \
     "'$BEFORE'" using 1:2 with linespoints lw 1 lc 1 dt 2 title "before: fresh", \
     "" using 1:3 with linespoints lw 1 lc 2 dt 2 title "before: no-op", \
     "" using 1:4 axes x1y2 with linespoints lw 1 lc 4 dt 2 title "before: peak RSS"'
	fi
	gnuplot <<GP
set terminal pngcairo size 900,560 font ",11"
set output "$PNG"
set title "bench/sim: provision against simulated hosts (log-log)"
set xlabel "hosts"
set ylabel "seconds"
set y2label "peak RSS of dcctl's process, MB"
set logscale xy
set logscale y2
set ytics nomirror
set y2tics
set key bottom right Left reverse opaque box
set grid
set datafile missing "-"
$plot
GP
	echo "chart: $PNG"
}

if [[ ${1:-} == chart ]]; then
	chart
	exit
fi
bin=$(mktemp -d)/sim
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/sim
printf '# hosts\tfresh_s\tnoop_s\tpeak_rss_mb\tfloor_s\n' > "$TSV"
err=$(dirname "$bin")/stderr
for n in $SIZES; do
	line=$("$bin" -hosts "$n" ${PROFILES:+-cpuprofile "$PROFILES/sim-$n"} 2>"$err") || { cat "$err" >&2; exit 1; }
	cat "$err" >&2
	echo "$line"
	floor=$(sed -n 's/.*one-round-trip floor: \([0-9.]*\)s.*/\1/p' "$err")
	# The line's fields come in a fixed order: hosts, fresh_s, noop_s, peak_rss_mb.
	printf '%s\t%s\n' "$(sed -E 's/[^0-9.,]//g; s/,/\t/g' <<<"$line")" "${floor:--}" >> "$TSV"
done
chart
