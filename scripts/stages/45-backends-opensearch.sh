# The elasticsearch backend against a real OpenSearch 2.19 node (Maven Central's jars, laid out by
# sidecar/peers/opensearch/fetch.sh), started once for the whole stage on free ports and stopped at the end.
stage_backends_opensearch() {
  "$PY" -m pytest -q -p no:cacheprovider sidecar/tests_opensearch sidecar/tests/test_elasticsearch_bulk_double.py
}

run_stage backends-opensearch stage_backends_opensearch
