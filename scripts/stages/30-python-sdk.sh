# Python SDK: lint, format, strict types, then the pytest suite (real file backend and HTTP
# receiver; wafermon run; hypothesis properties; docs examples; the conformance testee).
stage_lint_python_sdk() {
  local paths=(sdk-python bindings/python conformance/testees/python bench/python_job_overhead.py)
  ruff check "${paths[@]}"
  ruff format --check "${paths[@]}"
  mypy --strict sdk-python/src/wafermon bindings/python/build_ffi.py conformance/testees/python/testee.py \
    bench/python_job_overhead.py
  mypy --strict --explicit-package-bases sdk-python/tests
}
stage_python_sdk() {
  # The editable install: Python sources are used in place; rerun bootstrap after C changes.
  "$PY" -c "import wafermon; print('wafermon', wafermon.__version__, 'core', wafermon.core_version())"
  "$PY" -m pytest -q -p no:cacheprovider -p no:asyncio sdk-python/tests
}

run_stage lint-python-sdk stage_lint_python_sdk
run_stage python-sdk stage_python_sdk
