# Conformance schema package: lint, types, and the validator-vs-JSON-Schema tests.
stage_lint_schema() {
  ruff check conformance/python
  ruff format --check conformance/python
  mypy --strict conformance/python/src
}
stage_schema() { "$PY" -m pytest -q conformance/python/tests; }

run_stage lint-schema stage_lint_schema
run_stage schema stage_schema
