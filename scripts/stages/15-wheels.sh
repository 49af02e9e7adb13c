# Installing as a user does: wheels of the repository's Python packages into a clean venv with
# `pip install --find-links`, then a job end to end through the installed commands. The lock check
# (every package in .venv pinned at its locked version) runs first, with the one-version check
# (every copy agrees with VERSION) and the lint of the test kit (testkit/) the other stages use.
stage_lint_wheels() {
  ruff check scripts/check_lock.py scripts/version.py scripts/tests testkit
  ruff format --check scripts/check_lock.py scripts/version.py scripts/tests testkit
  mypy --strict testkit/src testkit/tests scripts/version.py
  "$PY" scripts/check_lock.py scripts/requirements.lock
  "$PY" -m pytest -q -p no:cacheprovider scripts/tests/test_version.py testkit/tests
}
stage_wheels() { "$PY" -m pytest -q -p no:cacheprovider scripts/tests/test_install_from_wheels.py; }

run_stage lint-wheels stage_lint_wheels
run_stage wheels stage_wheels
