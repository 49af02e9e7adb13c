#!/usr/bin/env bash
# Instructions per job on the calling thread (the application's cost; delivery runs on the
# libraries' own threads) for `with wafermon.job(...)`, for the same through the raw cffi calls,
# and for an OpenTelemetry span with BatchSpanProcessor + a dropping exporter. Counted by callgrind as the difference
# between runs of N1 and N2 iterations, so start-up cancels out; unlike wall time this does not
# move with the machine's load. Needs valgrind (scripts/bootstrap.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
N1=${N1:-1000}
N2=${N2:-3000}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
count() { # loop n -> instructions of the main thread (callgrind's first per-thread file)
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$WORK/cg.$1.$2" \
    "$PY" bench/python_job_overhead.py --only "$1" --n "$2" >/dev/null 2>&1
  sed -n 's/^totals: \([0-9]*\).*/\1/p' "$WORK/cg.$1.$2-01"
}
declare -A per_job
for loop in otel wafermon raw; do
  a=$(count "$loop" "$N1")
  b=$(count "$loop" "$N2")
  per_job[$loop]=$(((b - a) / (N2 - N1)))
done
printf '%-58s %8s instr/job  ratio vs otel %5s\n' \
  "otel span start+end (BatchSpanProcessor, drop exporter)" "${per_job[otel]}" "1.000" \
  "wafermon job start+finish (with wafermon.job), direct" "${per_job[wafermon]}" \
  "$(awk "BEGIN{printf \"%.3f\", ${per_job[wafermon]}/${per_job[otel]}}")" \
  "raw cffi wm_job_start+succeed+destroy, direct" "${per_job[raw]}" \
  "$(awk "BEGIN{printf \"%.3f\", ${per_job[raw]}/${per_job[otel]}}")"
