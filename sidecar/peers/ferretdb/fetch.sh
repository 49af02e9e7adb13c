#!/usr/bin/env bash
# Builds the FerretDB test peer (the MongoDB wire protocol over SQLite) from its Go module into
# var/peers/ferretdb-<version>/ferretdb, once: `sidecar/peers/ferretdb/fetch.sh [DEST]`.
# Safe to run again: it does nothing when the binary is there. Needs Go (/usr/local/go/bin/go) and
# the Go module proxy. The SQLite backend is built in by default (pure Go, no cgo, no build tag).
set -euo pipefail
version=v1.24.2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
dest=${1:-$root/var/peers/ferretdb-$version}
[ -x "$dest/ferretdb" ] && exit 0
export PATH="/usr/local/go/bin:$PATH"
mod_dir=$(go mod download -json "github.com/FerretDB/FerretDB@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$mod_dir" ] || { echo "ferretdb fetch: no module directory for FerretDB $version" >&2; exit 1; }
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
# The module as published leaves build/version/version.txt empty (their release builds write it),
# and the binary refuses to start without a version there: build a copy with the version written in.
cp -r "$mod_dir/." "$src/"
chmod -R u+w "$src"
echo "$version" >"$src/build/version/version.txt"
mkdir -p "$dest"
(cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$dest/ferretdb.partial" ./cmd/ferretdb)
mv "$dest/ferretdb.partial" "$dest/ferretdb"
echo "ferretdb peer: $dest/ferretdb"
