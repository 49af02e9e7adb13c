# Sidecar: lint, types, then the tests (real sidecar processes, stand-in receivers, kill -9 loop).
stage_lint_sidecar() {
  ruff check sidecar bench/sidecar_ingest.py
  ruff format --check sidecar bench/sidecar_ingest.py
  mypy --strict sidecar/src
}
stage_sidecar() {
  # -p no:cacheprovider: no .pytest_cache written into the tree; the summary line is pytest's own.
  "$PY" -m pytest -q -p no:cacheprovider sidecar/tests
}

run_stage lint-sidecar stage_lint_sidecar
run_stage sidecar stage_sidecar
