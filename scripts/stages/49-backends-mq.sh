# The rabbitmq and redis backends against real peers: Debian's rabbitmq-server and redis-server, each
# started by the tests as their own process (free ports, temp dirs, own epmd), stopped at the end.
stage_backends_mq() {
  "$PY" -m pytest -q -p no:cacheprovider sidecar/tests_mq
}

run_stage backends-mq stage_backends_mq
