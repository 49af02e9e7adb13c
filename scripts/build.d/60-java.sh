#!/usr/bin/env bash
# Java SDK: packages sdk-java/target/wafermon-<version>.jar with the JNI library inside
# (/linux-x86_64/libwafermon-jni-<version>.so, which CMake built into build/bindings/java), plus the
# test classes and target/testee.classpath for the conformance testee and the bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
version=$(sed -n 's/^#define WAFERMON_VERSION_STRING "\(.*\)"/\1/p' core/include/wafermon.h)
lib=build/bindings/java/libwafermon-jni-$version.so
if [[ ! -f $lib ]]; then
  echo "60-java: $lib is missing: configure CMake with -DWAFERMON_JAVA=ON and JAVA_HOME set" >&2
  exit 1
fi
cd sdk-java
# -ntp: no download progress. The first run on a fresh machine fetches plugins from Maven Central.
mvn -q -B -ntp -Dstyle.color=never package -DskipTests
jar=target/wafermon-$version.jar
if ! "$JAVA_HOME/bin/jar" tf "$jar" | grep -qx "linux-x86_64/libwafermon-jni-$version.so"; then
  echo "60-java: $jar does not carry linux-x86_64/libwafermon-jni-$version.so" >&2
  exit 1
fi
# A smoke test through the jar's own loader; it also fetches Surefire's JUnit provider now, so the
# test stage (mvn test) needs nothing more from the network.
mvn -q -B -ntp -Dstyle.color=never surefire:test -Dtest=StatusTableTest -Dsurefire.failIfNoSpecifiedTests=false >/dev/null
echo "60-java: $jar"
