#!/usr/bin/env bash
# The main job: starts the local stack on its embedded defaults — the gateway (SQLite) on 18000 and
# the sidecar on 17000 delivering to the gateway and to a file backend — runs a demo job through
# the Python SDK and a shell command through `wafermon run`, and shows them as the gateway serves
# them. State lives in var/demo/. With --serve the stack keeps running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN="$ROOT/.venv/bin"
DEMO="$ROOT/var/demo"
SERVE=0
[[ "${1:-}" == "--serve" ]] && SERVE=1
mkdir -p "$DEMO"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_http() { # url name
  for _ in $(seq 100); do
    if "$BIN/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "run: $2 did not come up; see $DEMO/$2.log" >&2
  exit 1
}

echo "run: starting the gateway (SQLite at $DEMO/gateway.db) on 127.0.0.1:18000"
WAFERMON_GATEWAY_SQLITE_PATH="$DEMO/gateway.db" "$BIN/wafermon-gateway" --host 127.0.0.1 --port 18000 \
  > "$DEMO/gateway.log" 2>&1 &
PIDS+=($!)
wait_http http://127.0.0.1:18000/v1/healthz gateway

cat > "$DEMO/sidecar.yaml" <<YAML
ingest: {host: 127.0.0.1, port: 17000}
spool: {path: $DEMO/sidecar-spool, max_size_mb: 256}
backends:
  - {type: managed_api, name: gateway, config: {url: "http://127.0.0.1:18000"}}
  - {type: filesystem, name: files, config: {path: $DEMO/events, format: jsonl, rotation: daily}}
YAML
echo "run: starting the sidecar on 127.0.0.1:17000 (→ gateway, → $DEMO/events)"
"$BIN/wafermon-sidecar" --config "$DEMO/sidecar.yaml" > "$DEMO/sidecar.log" 2>&1 &
PIDS+=($!)
wait_http http://127.0.0.1:17000/v1/healthz sidecar

export WAFERMON_SPOOL_DIR="$DEMO/client-spool" WAFERMON_APP_NAME=demo WAFERMON_APP_VERSION=1.0
LOT="demo-lot-$(date +%s)"
echo "run: demo job $LOT (Python SDK: a lot of three wafers, one fails)"
JOB_ID=$("$BIN/python" examples/demo_job.py "$LOT")
echo "run: a shell command as a job: wafermon run --site fab1 --key nightly-cleanup -- sh -c 'sleep 0.3'"
"$BIN/wafermon" run --site fab1 --key "nightly-cleanup-$LOT" -- sh -c 'sleep 0.3'

echo "run: what the gateway shows for job $JOB_ID:"
"$BIN/python" - "$JOB_ID" <<'PY'
import json, sys, time, urllib.request

job_id = sys.argv[1]
base = "http://127.0.0.1:18000"
for _ in range(100):
    try:
        with urllib.request.urlopen(f"{base}/v1/jobs/{job_id}", timeout=2) as r:
            detail = json.load(r)
        job, subjobs = detail["job"], detail["subjobs"]
        if job["status"] == "succeeded" and sum(s["status"] != "running" for s in subjobs) == 3:
            break
    except Exception:
        pass
    time.sleep(0.1)
else:
    sys.exit(f"run: job {job_id} did not reach the gateway; see var/demo/*.log")
print(f"  job {job['business_key']}: {job['status']}, {job['duration_s']:.2f} s, "
      f"{len(detail['timeline'])} events in its timeline")
for sub in sorted(subjobs, key=lambda s: s["sub_key"]):
    err = f"  ({sub['error']['type']}: {sub['error']['message']})" if sub.get("error") else ""
    print(f"    {sub['sub_key']}: {sub['status']}{err}")
with urllib.request.urlopen(f"{base}/v1/jobs?limit=5", timeout=2) as r:
    listing = json.load(r)
print(f"  GET /v1/jobs lists {len(listing['items'])} recent jobs: "
      + ", ".join(f"{j['business_key']}={j['status']}" for j in listing["items"]))
PY
echo "run: raw events also in $DEMO/events/; APIs: http://127.0.0.1:18000/docs (gateway), http://127.0.0.1:17000/v1/healthz (sidecar)"
echo "run: dashboard: http://127.0.0.1:18000/ui/"
if ((SERVE)); then
  echo "run: serving until Ctrl-C"
  wait
fi
