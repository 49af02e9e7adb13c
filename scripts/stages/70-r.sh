# R SDK: (re)install the package out of tree (scripts/build.d/70-r.sh: build/r-src -> build/r-lib)
# against build/prefix, then run its testthat suite (summary reporter + a totals line).
stage_r() {
  bash "$ROOT/scripts/build.d/70-r.sh"
  cd "$ROOT/build/r-src/tests"
  R_LIBS="$ROOT/build/r-lib" WAFERMON_R_SOURCE="$ROOT/sdk-r" Rscript -e '
    library(testthat); library(wafermon)
    res <- as.data.frame(test_dir("testthat", reporter = "summary", stop_on_failure = FALSE))
    cat(sprintf("R testthat: %d tests, %d expectations, %d failed, %d skipped, %d errors\n",
                nrow(res), sum(res$nb), sum(res$failed), sum(res$skipped), sum(res$error)))
    if (sum(res$failed) > 0 || any(res$error)) quit(status = 1)'
}

run_stage r stage_r
