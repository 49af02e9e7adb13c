#!/usr/bin/env bash
# Java start+finish cost per job (ns/op): bench/java_start_finish.sh [JOBS_PER_ROUND] [ROUNDS]
# Needs scripts/build.sh (the jar and sdk-java/target/test-classes). Prints one line
# "java start+finish: N ns/op (...)" to put next to the C, R and Perl figures.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JAVA="${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}/bin/java"
TARGET="$ROOT/sdk-java/target"
JAR="$TARGET/wafermon-0.1.0.jar"
if [[ ! -f "$JAR" || ! -d "$TARGET/test-classes" ]]; then
  echo "java_start_finish.sh: sdk-java is not built; run scripts/build.sh" >&2
  exit 2
fi
exec "$JAVA" -cp "$JAR:$TARGET/test-classes" dev.wafermon.bench.StartFinishBench "$@"
