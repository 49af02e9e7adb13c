# The cassandra backend against a real single-node Apache Cassandra 5.0 (cassandra-all's jars from
# Maven Central, laid out by sidecar/peers/cassandra/fetch.sh), started once for the whole stage on
# free ports with a 512 MiB-1 GiB heap and stopped at the end; the conformance vectors. Its own stage:
# the node alone takes about a minute to start on the shared machine.
stage_backends_cassandra() {
  "$PY" -m pytest -q -p no:cacheprovider sidecar/tests_cassandra
}

run_stage backends-cassandra stage_backends_cassandra
