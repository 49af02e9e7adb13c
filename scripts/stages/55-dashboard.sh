# Dashboard: the vendored front-end files match package-lock.json's packages, then the browser test
# (Debian's headless Chromium via playwright-core: live board, job detail, filters, axe-core).
stage_dashboard() {
  npm ci --prefix gateway/ui --no-audit --no-fund --silent
  node gateway/ui/vendor.mjs --check
  WAFERMON_TEST_OUT="${WAFERMON_TEST_OUT:-$ROOT/var/test-output}" \
    "$PY" -m pytest -q -p no:cacheprovider gateway/ui/tests
}

run_stage dashboard stage_dashboard
