# The mysql backend against a real MariaDB server (Debian's mariadb-server, not run as a service: the
# tests start their own mariadbd in a temp dir on a free port), started once for the stage and stopped at the end.
stage_backends_mariadb() {
  "$PY" -m pytest -q -p no:cacheprovider sidecar/tests_mariadb sidecar/tests/test_mysql_vectors.py
}

run_stage backends-mariadb stage_backends_mariadb
