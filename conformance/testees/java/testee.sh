#!/usr/bin/env bash
# The Java conformance testee: testee.sh SCENARIO.json (conformance/PROTOCOL.md).
# Runs dev.wafermon.conformance.Testee (src/ here, compiled with sdk-java's test classes) on the jar
# that scripts/build.sh built; the classpath of its test dependencies (Jackson) is written by
# `mvn package` to sdk-java/target/testee.classpath.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
JAVA="${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}/bin/java"
TARGET="$ROOT/sdk-java/target"
JAR=$(ls "$TARGET"/wafermon-*.jar 2>/dev/null | grep -v -e sources -e javadoc | head -n1 || true)
if [[ -z "$JAR" || ! -f "$TARGET/testee.classpath" || ! -d "$TARGET/test-classes" ]]; then
  echo "testee.sh: sdk-java is not built; run scripts/build.sh" >&2
  exit 2
fi
exec "$JAVA" -cp "$JAR:$TARGET/test-classes:$(cat "$TARGET/testee.classpath")" \
  dev.wafermon.conformance.Testee "$@"
