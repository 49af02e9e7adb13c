#!/usr/bin/env Rscript
# The R testee of the conformance suite (conformance/PROTOCOL.md): performs a scenario through the
# wafermon R package's public API and prints one JSON line per step. R cannot fork safely, so the
# scenarios with "fork_child" list "r" in "skip".
suppressPackageStartupMessages({
  library(wafermon)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) {
  message("usage: testee.R SCENARIO.json")
  quit(status = 2)
}
scenario <- fromJSON(args[[1]], simplifyVector = FALSE)
jobs <- new.env(parent = emptyenv())

job_of <- function(name) if (!is.null(name) && exists(name, envir = jobs, inherits = FALSE)) get(name, envir = jobs) else NULL

# The step's metadata as R data: "metadata" as parsed, or "metadata_raw" parsed from its text.
metadata_of <- function(step) {
  if (!is.null(step$metadata_raw)) return(fromJSON(step$metadata_raw, simplifyVector = FALSE))
  step$metadata
}

run_step <- function(step) {
  op <- step$op
  md <- metadata_of(step)
  switch(op,
    start = {
      j <- job_start(business_key = step$business_key, site_id = step$site_id, metadata = md)
      if (!is.null(step$as)) assign(step$as, j, envir = jobs)
      job_id(j)
    },
    subjob = {
      j <- subjob(job_of(step$parent), sub_key = step$sub_key, metadata = md)
      if (!is.null(step$as)) assign(step$as, j, envir = jobs)
      job_id(j)
    },
    progress = { job_progress(job_of(step$job), step$fraction, metadata = md); NULL },
    heartbeat = { job_heartbeat(job_of(step$job)); NULL },
    succeed = { job_finish(job_of(step$job), "succeeded", metadata = md); NULL },
    cancel = { job_finish(job_of(step$job), "cancelled", metadata = md); NULL },
    fail = {
      job_finish(job_of(step$job), "failed", error = step$error_message,
                 error_type = if (is.null(step$error_type)) "" else step$error_type, metadata = md)
      NULL
    },
    flush = { wafermon_flush(if (is.null(step$timeout)) 10 else step$timeout); NULL },
    sleep = { Sys.sleep(step$seconds); NULL },
    fork_child = stop_unsupported("fork_child: R cannot fork safely (list the scenario in skip)"),
    stop_unsupported(paste("unknown op", op))
  )
}

stop_unsupported <- function(msg) stop(structure(class = c("UnsupportedError", "error", "condition"),
                                                  list(message = msg, call = NULL)))

emit <- function(x) {
  cat(to_json(x), "\n", sep = "")
  flush(stdout())
}

for (i in seq_along(scenario$steps)) {
  res <- tryCatch(
    {
      id <- run_step(scenario$steps[[i]])
      if (is.null(id)) list(step = i - 1L, ok = TRUE) else list(step = i - 1L, ok = TRUE, id = id)
    },
    wafermon_error = function(e) list(step = i - 1L, ok = FALSE, error = e$name, message = conditionMessage(e)),
    error = function(e) list(step = i - 1L, ok = FALSE, error = class(e)[[1]], message = conditionMessage(e))
  )
  emit(res)
}
status <- tryCatch({ wafermon_close(10); 0L }, wafermon_error = function(e) {
  message("close: ", conditionMessage(e))
  1L
})
quit(status = status)
