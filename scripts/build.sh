#!/usr/bin/env bash
# Builds the C core (and the native parts other stages need) into build/, and installs it into
# build/prefix so SDKs and examples link against it as users would (pkg-config, find_package).
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX="$PWD/build/prefix" \
  -DWAFERMON_JAVA=ON >/dev/null
cmake --build build
cmake --install build --prefix "$PWD/build/prefix" >/dev/null
# Components with their own toolchains add a script here: scripts/build.d/NN-name.sh, run in order.
for step in scripts/build.d/*.sh; do
  [ -e "$step" ] || continue
  echo "build: $step"
  bash "$step"
done
echo "build: done (libraries in build/prefix/lib)"
