# The C core: formatting, unit tests (ctest), the same under ASan/UBSan, and the integration tests
# that drive built binaries against a real HTTP receiver process (pytest).
stage_core_format() {
  clang-format --dry-run -Werror core/include/*.h core/src/*.[ch] core/tests/*.[ch] core/examples/*.c bindings/python/*.c \
    conformance/testees/c/*.c bench/*.c sidecar/native/*.cpp
}
stage_core_unit() {
  cmake --build build
  # -O3 finds warnings -O2 does not, and Release is what pip install builds: it must pass -Werror.
  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DWAFERMON_BUILD_TESTS=OFF >/dev/null
  cmake --build build-release
  (cd build/core && ctest --output-on-failure -j"$JOBS" --timeout 120)
}
stage_core_sanitizers() {
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWAFERMON_SANITIZE=ON >/dev/null
  cmake --build build-asan
  (cd build-asan/core && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j"$JOBS" --timeout 300)
}
stage_core_tsan() {
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWAFERMON_TSAN=ON >/dev/null
  cmake --build build-tsan
  # ThreadSanitizer does not support starting threads in a forked child: the fork tests run
  # under ASan/UBSan only.
  (cd build-tsan/core && TSAN_OPTIONS=halt_on_error=1 \
    ctest --output-on-failure -j"$JOBS" --timeout 300 -E "fork|slots")
}
stage_core_integration() {
  ruff check core/tests/integration
  ruff format --check core/tests/integration
  mypy --strict core/tests/integration
  WAFERMON_BUILD_DIR="$ROOT/build" "$PY" -m pytest -q core/tests/integration
}

run_stage core-format stage_core_format
run_stage core-unit stage_core_unit
run_stage core-asan-ubsan stage_core_sanitizers
run_stage core-tsan stage_core_tsan
run_stage core-integration stage_core_integration
