#!/usr/bin/env bash
# Builds the Perl distribution (sdk-perl) out of tree in build/perl-src against build/prefix; the
# conformance testee and the bench load it from build/perl-src/blib.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$ROOT/build/perl-src"
cp -r "$ROOT/sdk-perl" "$ROOT/build/perl-src"
cd "$ROOT/build/perl-src"
{ WAFERMON_PREFIX="$ROOT/build/prefix" perl Makefile.PL && make; } >"$ROOT/build/perl-build.log" 2>&1 ||
  { cat "$ROOT/build/perl-build.log" >&2; exit 1; }
echo "build: Perl WaferMon built in build/perl-src/blib"
