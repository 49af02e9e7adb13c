# The cross-language conformance suite: every scenario through every language's testee, checked
# at a real receiver; prints the scenario x language report.
stage_conformance() {
  ruff check conformance/runner
  ruff format --check conformance/runner
  mypy --strict conformance/runner
  # Languages whose SDK and testee are part of this build.
  WAFERMON_CONFORMANCE_LANGS=${WAFERMON_CONFORMANCE_LANGS:-c,python,java,r,perl} "$PY" -m pytest -q -p no:cacheprovider conformance/runner
}
run_stage conformance stage_conformance
