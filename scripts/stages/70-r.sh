# R SDK: install the package (out of tree: build/r-src -> build/r-lib) against build/prefix, then
# run its testthat suite (the summary reporter prints one dot per expectation and the failures).
stage_r() {
  rm -rf "$ROOT/build/r-src" "$ROOT/build/r-lib"
  mkdir -p "$ROOT/build/r-lib"
  cp -r "$ROOT/sdk-r" "$ROOT/build/r-src"
  WAFERMON_PREFIX="$ROOT/build/prefix" R CMD INSTALL --no-multiarch --library="$ROOT/build/r-lib" \
    "$ROOT/build/r-src" >"$ROOT/build/r-install.log" 2>&1 || { cat "$ROOT/build/r-install.log"; return 1; }
  (cd "$ROOT/build/r-src/tests" &&
    R_LIBS="$ROOT/build/r-lib" WAFERMON_R_SOURCE="$ROOT/sdk-r" Rscript -e '
      library(testthat); library(wafermon)
      res <- as.data.frame(test_dir("testthat", reporter = "summary", stop_on_failure = FALSE))
      cat(sprintf("R testthat: %d tests, %d expectations, %d failed, %d skipped, %d errors\n",
                  nrow(res), sum(res$nb), sum(res$failed), sum(res$skipped), sum(res$error)))
      if (sum(res$failed) > 0 || any(res$error)) quit(status = 1)')
}

run_stage r stage_r
