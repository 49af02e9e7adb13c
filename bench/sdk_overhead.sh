#!/usr/bin/env bash
# Start+finish cost per job in every language, one run, next to the C figure (issue 6).
# Each language's own bench runs in mode "direct" into a temp dir (no network wait); C runs the
# core's loop with the same configuration. Needs scripts/build.sh (and the R/Perl/Java builds).
#   bench/sdk_overhead.sh [JOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-100000}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PKG_CONFIG_PATH="$ROOT/build/prefix/lib/pkgconfig"
cc -O2 bench/core_job_overhead.c $(pkg-config --cflags --libs wafermon) -Wl,-rpath,"$ROOT/build/prefix/lib" \
  -o "$WORK/core_job_overhead"
C_CFG="{\"mode\": \"direct\", \"direct_backends\": [{\"type\": \"filesystem\", \"path\": \"$WORK/out\", \"fsync\": false}],
        \"spool\": {\"path\": \"$WORK/spool\"}, \"queue\": {\"size\": $((2 * N + 4000))}, \"log_level\": \"off\"}"
c_ns=$(WAFERMON_CONFIG=$C_CFG "$WORK/core_job_overhead" "$N" | sed -E 's/.*ns_per_job=([0-9.]+).*/\1/')
echo "c start+finish: $c_ns ns/op"
{
  bash bench/java_start_finish.sh "$N" 5 2>/dev/null | grep "start+finish" || echo "java: not built"
  R_LIBS="$ROOT/build/r-lib" Rscript bench/r_job_overhead.R "$N" 2>/dev/null | grep "start+finish" || echo "r: not built"
  perl bench/perl_job_overhead.pl "$N" 2>/dev/null | grep "start+finish" || echo "perl: not built"
} | tee "$WORK/lines"
echo "ratios against C ($c_ns ns/op):"
grep -E "^[a-z]+ .*start\+finish: [0-9.]+ ns/op" "$WORK/lines" | while read -r line; do
  ns=$(sed -E 's/.*start\+finish: ([0-9.]+) ns\/op.*/\1/' <<< "$line")
  label="$(sed -E 's/ start\+finish.*//' <<< "$line") ($(sed -E 's/.*ns\/op \(([^,;]*).*/\1/' <<< "$line"))"
  python3 -c "import sys; print(f'  {sys.argv[1]:28} {float(sys.argv[2]):>10.0f} ns/op  {float(sys.argv[2]) / float(sys.argv[3]):6.1f}x C')" \
    "$label" "$ns" "$c_ns"
done
