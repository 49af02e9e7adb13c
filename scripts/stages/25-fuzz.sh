# Fuzzing (docs/reliability.md, "Fuzzing"): the libFuzzer targets of the C core (core/fuzz) and of the
# sidecar's native event check (sidecar/native/fuzz), built with clang and ASan/UBSan, each run for
# FUZZ_SECONDS (default 60) from its committed seed corpus. A crash, a sanitizer report, a leak or a
# failed oracle fails the stage and leaves the input in build-fuzz/artifacts/.
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_CORE_TARGETS=(fuzz_config fuzz_utf8 fuzz_metadata fuzz_spool_format fuzz_spool)

fuzz_build() {
  CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWAFERMON_FUZZ=ON \
    -DWAFERMON_BUILD_TESTS=OFF >/dev/null
  cmake --build build-fuzz
  # The event check with an embedded interpreter: the venv's python describes the model (validation/native.py).
  local include libdir ldversion
  include=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  libdir=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
  ldversion=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("LDVERSION"))')
  mkdir -p build-fuzz/sidecar
  # shellcheck disable=SC2046 # pkg-config prints several flags
  clang++ -std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -Wall -Wextra -Werror -I"$include" $(pkg-config --cflags simdjson) \
    -DWM_FUZZ_PYTHON="\"$PY\"" sidecar/native/fuzz/fuzz_eventcheck.cpp -o build-fuzz/sidecar/fuzz_eventcheck \
    $(pkg-config --libs simdjson) -L"$libdir" -Wl,-rpath,"$libdir" -lpython"$ldversion"
}

# fuzz_run BINARY CORPUS [libFuzzer flags...]: new inputs go to a scratch directory, never the corpus.
fuzz_run() {
  local binary=$1 corpus=$2 name work log
  shift 2
  name=$(basename "$binary")
  work=$(mktemp -d)
  log=build-fuzz/$name.log
  mkdir -p build-fuzz/artifacts
  if "$binary" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/"$name"- \
    "$@" "$work" "$corpus" >"$log" 2>&1; then
    printf '%-20s %s, %s exec/s, no crash\n' "$name" \
      "$(grep -a 'stat::number_of_executed_units' "$log" | awk '{print $2}') executions" \
      "$(grep -a 'stat::average_exec_per_sec' "$log" | awk '{print $2}')"
    rm -rf "$work"
  else
    rm -rf "$work"
    tail -n 60 "$log"
    echo "$name: FAILED (full log: $log; input in build-fuzz/artifacts/)"
    return 1
  fi
}

stage_fuzz() {
  clang-format --dry-run -Werror core/fuzz/*.c sidecar/native/fuzz/*.cpp
  fuzz_build
  local failed=0 target tmp=/dev/shm
  [ -w "$tmp" ] || tmp=${TMPDIR:-/tmp}
  for target in "${FUZZ_CORE_TARGETS[@]}"; do
    local -a extra=()
    [[ $target == fuzz_spool* ]] && extra=(-max_len=1024) # segments of a few records
    TMPDIR=$tmp fuzz_run build-fuzz/core/fuzz/"$target" core/fuzz/corpus/"$target" "${extra[@]}" || failed=1
  done
  # The interpreter's own allocations are not ours to report: no leak check for this one.
  ASAN_OPTIONS=detect_leaks=0 fuzz_run build-fuzz/sidecar/fuzz_eventcheck sidecar/native/fuzz/corpus || failed=1
  return "$failed"
}

run_stage fuzz stage_fuzz
