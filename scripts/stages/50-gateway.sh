# Gateway: lint, format, strict types, then the tests (SQLite and a PostgreSQL the tests start).
stage_lint_gateway() {
  ruff check gateway
  ruff format --check gateway
  mypy --strict gateway/src
}
stage_gateway() { "$PY" -m pytest -q -p no:cacheprovider gateway/tests; }

run_stage lint-gateway stage_lint_gateway
run_stage gateway stage_gateway
