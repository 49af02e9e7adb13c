# The mongodb backend against a real FerretDB 1.24 server (the MongoDB wire protocol over SQLite,
# built from its Go module by sidecar/peers/ferretdb/fetch.sh; not MongoDB itself), started once for
# the whole stage on a free port and stopped at the end; the conformance vectors.
stage_backends_mongodb() {
  "$PY" -m pytest -q -p no:cacheprovider sidecar/tests_mongodb
}

run_stage backends-mongodb stage_backends_mongodb
