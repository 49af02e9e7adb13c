#!/usr/bin/env bash
# Lays out the Cassandra test peer (cassandra-all and its run-time jars from Maven Central) under
# var/peers/cassandra-<version>/lib, once: `sidecar/peers/cassandra/fetch.sh [DEST]`.
# Safe to run again: it does nothing when DEST is complete. Needs mvn and Java 17 (scripts/bootstrap.sh).
# The node's cassandra.yaml and JVM flags are written per test session by cassandra_peer.py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
version=$(sed -n 's:.*<cassandra.version>\(.*\)</cassandra.version>.*:\1:p' "$here/pom.xml")
dest=${1:-$root/var/peers/cassandra-$version}
[ -f "$dest/.complete" ] && exit 0
tmp="$dest.partial"
rm -rf "$tmp"
mkdir -p "$tmp"
mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/lib"
touch "$tmp/.complete"
rm -rf "$dest"
mv "$tmp" "$dest"
echo "cassandra peer: $dest"
