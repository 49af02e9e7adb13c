# The nats backend against a real nats-server with JetStream (built from its Go module by
# sidecar/peers/nats/fetch.sh into var/peers/), started once for the stage on free ports and stopped at the end.
stage_backends_nats() {
  "$PY" -m pytest -q -p no:cacheprovider sidecar/tests_nats sidecar/tests/test_nats_vectors.py
}

run_stage backends-nats stage_backends_nats
