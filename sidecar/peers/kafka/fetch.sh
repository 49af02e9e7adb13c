#!/usr/bin/env bash
# Lays out the Kafka test peer's jars (the broker kafka_2.13 and what it loads at run time) from Maven
# Central under lib/, once: `sidecar/peers/kafka/fetch.sh [DEST]` (default var/peers/kafka-<version>).
# Safe to run again: it does nothing when DEST is complete. Needs mvn and Java 17 (scripts/bootstrap.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
dest=${1:-$root/var/peers/kafka-$version}
[ -f "$dest/.complete" ] && exit 0
tmp="$dest.partial"
rm -rf "$tmp"
mkdir -p "$tmp"
mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/lib"
cp -r "$here/home/." "$tmp/"
touch "$tmp/.complete"
rm -rf "$dest"
mv "$tmp" "$dest"
echo "kafka peer: $dest"
