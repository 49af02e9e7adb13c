#!/usr/bin/env bash
# Builds the NATS test peer (nats-server, JetStream included) from its Go module, once:
# `sidecar/peers/nats/fetch.sh [DEST]` (default var/peers/nats-server-<version>). The version is the
# one below; `go install` fetches the module through the Go module proxy and compiles it (a minute or
# two the first time). Safe to run again: it does nothing when DEST/nats-server is already there.
set -euo pipefail
version=v2.15.2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
dest=${1:-$root/var/peers/nats-server-$version}
[ -x "$dest/nats-server" ] && exit 0
GO=${GO:-/usr/local/go/bin/go}
tmp="$dest.partial"
rm -rf "$tmp"
mkdir -p "$tmp"
# Its own module and build caches under var/, so a build here never touches another project's.
export GOPATH="$root/var/go" GOCACHE="$root/var/go/cache" GOFLAGS=-modcacherw
GOBIN="$tmp" "$GO" install "github.com/nats-io/nats-server/v2@$version"
rm -rf "$dest"
mv "$tmp" "$dest"
echo "nats peer: $dest/nats-server"
