# Sidecar: lint, types, then the tests (real sidecar processes, stand-in receivers, kill -9 loop).
# The sidecar's benches: ingest, shaping, the exports, and one per backend (bench/<type>_backend.py).
SIDECAR_BENCHES=(bench/sidecar_ingest.py bench/loki_push.py bench/file_exports.py bench/backend_shaping.py
  bench/backend_timing.py bench/*_backend.py)
stage_lint_sidecar() {
  ruff check sidecar "${SIDECAR_BENCHES[@]}"
  ruff format --check sidecar "${SIDECAR_BENCHES[@]}"
  mypy --strict sidecar/src
}
stage_sidecar() {
  # -p no:cacheprovider: no .pytest_cache written into the tree; the summary line is pytest's own.
  "$PY" -m pytest -q -p no:cacheprovider sidecar/tests
}

stage_sidecar_native_asan() {
  # native/eventcheck.cpp under ASan/UBSan: a sanitized build of the module goes into a copy of the
  # package that comes first on PYTHONPATH; the interpreter is not sanitized, so libasan is preloaded.
  local dir ext include
  dir=$(mktemp -d)
  trap "rm -rf '$dir'" EXIT # the stage runs in its own subshell
  cp -r sidecar/src/wafermon_sidecar "$dir/"
  rm -f "$dir"/wafermon_sidecar/_eventcheck*.so
  ext=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
  include=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  # shellcheck disable=SC2046 # pkg-config prints several flags
  g++ -std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
    -Wall -Wextra -Werror -shared -fPIC -I"$include" $(pkg-config --cflags simdjson) \
    sidecar/native/eventcheck.cpp -o "$dir/wafermon_sidecar/_eventcheck$ext" $(pkg-config --libs simdjson)
  local -x LD_PRELOAD ASAN_OPTIONS=detect_leaks=0 PYTHONPATH="$dir"
  LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)"
  "$PY" -c 'import sys, wafermon_sidecar._eventcheck as m; sys.exit(not m.__file__.startswith(sys.argv[1]))' "$dir"
  "$PY" -m pytest -q -p no:cacheprovider sidecar/tests/test_nativecheck.py sidecar/tests/test_validation_property.py \
    -k "not over_http"
}

run_stage lint-sidecar stage_lint_sidecar
run_stage sidecar stage_sidecar
run_stage sidecar-native-asan stage_sidecar_native_asan
