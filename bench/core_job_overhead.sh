#!/usr/bin/env bash
# Prints the C core's app-thread cost of one job start+finish, with the receiver healthy and dead:
# wall-clock ns per job, and instructions per job under callgrind (counted in job_loop only).
# Target (issue 2): < 2,000 instructions per start+finish; dead within 1.2x of healthy.
# Needs scripts/build.sh first (links against build/prefix through pkg-config).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d)
trap 'kill $RECEIVER_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
export PKG_CONFIG_PATH="$ROOT/build/prefix/lib/pkgconfig"
cc -O2 -g bench/core_job_overhead.c $(pkg-config --cflags --libs wafermon) -Wl,-rpath,"$ROOT/build/prefix/lib" \
  -o "$WORK/core_job_overhead"

# The test kit's receiver keeping the sidecar's ingest contract; it prints "ready PORT PID".
.venv/bin/python -m wafermon_testkit.receiver_server --port 0 --out "$WORK/received.jsonl" \
  --path /v1/ingest/events:batch --ok-status 202 > "$WORK/receiver.out" &
RECEIVER_PID=$!
for _ in $(seq 50); do grep -q ready "$WORK/receiver.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/^ready/ {print $2}' "$WORK/receiver.out")

N_WALL=${N_WALL:-200000}
N_CG=${N_CG:-2000}
run() { # name url
  local name=$1 url=$2
  local cfg="{\"sidecar\": {\"url\": \"$url\", \"retries\": 0}, \"spool\": {\"path\": \"$WORK/spool-$name\"},
              \"queue\": {\"size\": $((2 * N_WALL + 4000))}, \"log_level\": \"off\"}"
  local wall
  wall=$(WAFERMON_CONFIG=$cfg "$WORK/core_job_overhead" "$N_WALL")
  local cgout="$WORK/cg-$name.out"
  WAFERMON_CONFIG=$cfg valgrind --tool=callgrind --toggle-collect=job_loop --callgrind-out-file="$cgout" \
    "$WORK/core_job_overhead" "$N_CG" > /dev/null 2> "$WORK/cg-$name.log"
  local ir
  ir=$(grep -E '^summary:|^totals:' "$cgout" | head -1 | awk '{print $2}')
  # job_loop runs twice (warm-up of min(N,1000) jobs, then N): divide by the jobs counted.
  local jobs=$((N_CG + (N_CG < 1000 ? N_CG : 1000)))
  local per_job=$((ir / jobs))
  echo "$name: $wall instructions_per_job=$per_job (callgrind, $jobs jobs)"
  eval "IR_$name=$per_job"
}
run healthy "http://127.0.0.1:$PORT"
run dead "http://127.0.0.1:9"
python3 -c "print(f'dead/healthy instruction ratio = {$IR_dead / $IR_healthy:.3f} (target <= 1.2); healthy {$IR_healthy} instr/job (target < 2000)')"
