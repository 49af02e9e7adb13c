# The kafka backend against a real Kafka broker (KRaft single node, Maven Central's kafka_2.13 laid out
# by sidecar/peers/kafka/fetch.sh), started once for the whole stage on free ports and stopped at the end.
stage_backends_kafka() {
  "$PY" -m pytest -q -p no:cacheprovider sidecar/tests_kafka
}

run_stage backends-kafka stage_backends_kafka
