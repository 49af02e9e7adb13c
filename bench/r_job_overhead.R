#!/usr/bin/env Rscript
# R start+finish cost per job (ns/op), mode "direct" to a temp dir:
#   R_LIBS=build/r-lib Rscript bench/r_job_overhead.R [JOBS]
# Needs the package installed (scripts/stages/70-r.sh installs it into build/r-lib). Prints
# "r start+finish: N ns/op (...)" lines to put next to the C, Java and Perl figures.
suppressPackageStartupMessages(library(wafermon))
args <- commandArgs(trailingOnly = TRUE)
n <- if (length(args)) as.integer(args[[1]]) else 100000L
dir <- tempfile("wafermon-bench-r-")
wafermon_configure(mode = "direct",
                   direct_backends = list(list(type = "filesystem", path = file.path(dir, "out"))),
                   spool = list(path = file.path(dir, "spool")),
                   queue = list(size = 3L * n + 10000L), log_level = "off")

explicit <- function(k) for (i in seq_len(k)) { j <- job_start("batch-1"); job_finish(j); job_close(j) }
scoped <- function(k) for (i in seq_len(k)) with_job(NULL, business_key = "batch-1")

time_it <- function(name, f) {
  f(min(n, 1000L)) # warm-up
  wafermon_flush(60)
  invisible(gc())
  t0 <- proc.time()[["elapsed"]]
  f(n)
  t1 <- proc.time()[["elapsed"]]
  cat(sprintf("r start+finish: %.0f ns/op (%s, %d jobs, R %s)\n", (t1 - t0) / n * 1e9, name, n,
              getRversion()))
}
time_it("job_start + job_finish + job_close", explicit)
time_it("with_job", scoped)
wafermon_flush(120)
st <- wafermon_stats()
cat(sprintf("r bench: emitted=%.0f delivered=%.0f spooled=%.0f dropped=%.0f\n",
            st[["emitted"]], st[["delivered"]], st[["spooled"]], st[["dropped"]]))
wafermon_close()
unlink(dir, recursive = TRUE)
