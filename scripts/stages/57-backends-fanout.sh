# Every backend of issues 13 and 14 in one sidecar at once, each against its real peer (the other
# backend stages' peer modules, all started in parallel for this stage and stopped at the end), plus
# a blackholed and a 500-answering webhook: ingest acknowledgement latency against a baseline run,
# every good backend drained and read back, the two bad ones holding their spool until healed.
# -s: the test prints its measured figures (docs/sidecar.md, "All backends at once").
stage_backends_fanout() {
  "$PY" -m pytest -q -s -p no:cacheprovider sidecar/tests_fanout
}

run_stage backends-fanout stage_backends_fanout
