# The ledger (bench/ledger.py): Python SDK processes -> sidecar -> gateway (SQLite) under kill -9 of
# sidecar and gateway, a gateway outage, sidecar freezes and a full spool disk (a tmpfs as root);
# every acknowledged event must be stored exactly once. Prints
# "ledger: acknowledged=N stored=N lost=0 duplicated=0" and fails otherwise. Takes about 2-3 minutes.
stage_lint_ledger() {
  ruff check bench/ledger.py bench/ledger_worker.py
  ruff format --check bench/ledger.py bench/ledger_worker.py
  mypy --strict bench/ledger.py bench/ledger_worker.py
}
stage_ledger() {
  "$PY" bench/ledger.py --events 20000 --kills 5 --freezes 2 --rate 250 --lanes 4 --events-per-process 500 \
    --drain-timeout 90
}

run_stage lint-ledger stage_lint_ledger
run_stage ledger stage_ledger
