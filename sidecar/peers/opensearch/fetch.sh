#!/usr/bin/env bash
# Lays out the OpenSearch test peer's node home (lib/, modules/transport-netty4/, config/) from
# Maven Central, once: `sidecar/peers/opensearch/fetch.sh [DEST]` (default var/peers/opensearch-<version>).
# Safe to run again: it does nothing when DEST is complete. Needs mvn and Java 17 (scripts/bootstrap.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
version=$(sed -n 's:.*<opensearch.version>\(.*\)</opensearch.version>.*:\1:p' "$here/pom.xml")
dest=${1:-$root/var/peers/opensearch-$version}
[ -f "$dest/.complete" ] && exit 0
tmp="$dest.partial"
rm -rf "$tmp"
mkdir -p "$tmp"
mvn=(mvn -q -B -f "$here/pom.xml")
# The server and what it loads at run time. JNA's classes must be there, but the node is started with
# JNA's native library kept out of reach (opensearch_peer.py): the node then cannot tell it runs as
# root (CI containers do), so it starts, with native calls (mlockall, seccomp) off.
"${mvn[@]}" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/lib"
# The HTTP/transport module: its own jar and netty, in its own class loader as in the distribution.
"${mvn[@]}" -Pnetty dependency:copy-dependencies -DincludeGroupIds=io.netty,org.opensearch.plugin \
  -DoutputDirectory="$tmp/modules/transport-netty4"
cp -r "$here/home/." "$tmp/"
sed -i "s/@VERSION@/$version/" "$tmp/modules/transport-netty4/plugin-descriptor.properties"
touch "$tmp/.complete"
rm -rf "$dest"
mv "$tmp" "$dest"
echo "opensearch peer: $dest"
