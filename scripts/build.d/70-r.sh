#!/usr/bin/env bash
# Installs the R package (sdk-r) into build/r-lib, out of tree (build/r-src), against build/prefix.
# Used by scripts/build.sh, the R stage and the conformance testee (R_LIBS=build/r-lib).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$ROOT/build/r-src" "$ROOT/build/r-lib"
mkdir -p "$ROOT/build/r-lib"
cp -r "$ROOT/sdk-r" "$ROOT/build/r-src"
WAFERMON_PREFIX="$ROOT/build/prefix" R CMD INSTALL --no-multiarch --library="$ROOT/build/r-lib" \
  "$ROOT/build/r-src" >"$ROOT/build/r-install.log" 2>&1 || { cat "$ROOT/build/r-install.log" >&2; exit 1; }
echo "build: R package wafermon installed into build/r-lib"
