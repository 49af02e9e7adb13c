# wafermon for R: a thin layer over libwafermon (.Call glue in src/).

.wm <- new.env(parent = emptyenv())
.wm$client <- NULL
.wm$stack <- list() # jobs opened by with_job()/with_subjob(), innermost last

.sdk_version <- function() as.character(utils::packageVersion("wafermon"))

#' Configures the client every later job uses (closing the previous one, after flushing it).
#'
#' `config` is a named list in the universal configuration schema (see wafermon.h), merged with
#' `...`; `sdk.lang` / `sdk.version` are always set to "r" and this package's version. Layers, later
#' wins: built-in defaults < WAFERMON_CONFIG < WAFERMON_* variables < this list.
wafermon_configure <- function(config = list(), ...) {
  if (!is.list(config)) {
    stop_wafermon(2L, "config must be a named list (the universal configuration as an R list)")
  }
  config <- utils::modifyList(config, list(...))
  config$sdk <- list(lang = "r", version = .sdk_version())
  json <- .to_json(config, "config")
  client <- .Call(C_client_open, json)
  old <- .wm$client
  .wm$client <- client
  if (!is.null(old)) try(.Call(C_client_close, old, 10), silent = TRUE)
  invisible(client)
}

.client <- function() {
  if (is.null(.wm$client)) wafermon_configure()
  .wm$client
}

#' Flushes and closes the client; the next job opens a new one from the environment.
wafermon_close <- function(timeout = 10) {
  old <- .wm$client
  .wm$client <- NULL
  if (!is.null(old)) .Call(C_client_close, old, timeout)
  invisible(NULL)
}

#' Waits until every event so far is delivered or durably spooled (TimeoutError otherwise).
wafermon_flush <- function(timeout = 10) {
  .Call(C_client_flush, .client(), timeout)
  invisible(TRUE)
}

#' The client's counters (emitted, delivered, spooled, dropped, ...) as a named numeric vector.
wafermon_stats <- function() .Call(C_client_stats, .client())

#' The core's status table: code, C name, exception name and message of every status.
wafermon_status_table <- function() as.data.frame(.Call(C_status_table), stringsAsFactors = FALSE)

#' Serialises an R value as wafermon does for metadata (`what = "metadata"`) or any value.
to_json <- function(x, what = c("value", "metadata", "config")) {
  .to_json(x, match.arg(what))
}

# Signals a wafermon condition of the given status code from R code.
stop_wafermon <- function(code, message) {
  tab <- .Call(C_status_table)
  i <- match(code, tab$code)
  cond <- structure(
    list(message = message, call = NULL, code = as.integer(code), name = tab$exception[i],
         status = tab$name[i]),
    class = c(paste0("wafermon_", tab$exception[i]), "wafermon_error", "error", "condition")
  )
  stop(cond)
}

.meta <- function(metadata) if (is.null(metadata)) NULL else .to_json(metadata, "metadata")

# A job handle is an external pointer of class "wafermon_job" made by the C glue, which checks
# class and liveness on every call ("handle is closed").

# A schedule monitor declared from code goes into the metadata under "wafermon.monitor".
.with_monitor <- function(metadata, monitor) {
  if (is.null(monitor)) return(metadata)
  if (!is.list(monitor) || is.null(names(monitor)) || any(names(monitor) == "")) {
    tab <- .Call(C_status_table)
    stop_wafermon(tab$code[tab$exception == "InvalidArgumentError"],
                  "job: monitor must be a named list, e.g. list(schedule = \"0 2 * * *\")")
  }
  if (is.null(metadata)) metadata <- list()
  if (!is.list(metadata)) return(metadata)  # the core refuses it with its own error
  metadata[["wafermon.monitor"]] <- monitor
  metadata
}

#' Starts a job and emits its "started" event; finish it with job_finish(). `monitor`: a schedule
#' monitor declared from code, e.g. list(schedule = "0 2 * * *", tz = "Europe/Berlin",
#' max_runtime_s = 3600), sent in the metadata under "wafermon.monitor" (docs/alerting.md).
job_start <- function(business_key = NULL, site_id = NULL, metadata = NULL, monitor = NULL) {
  client <- .wm$client
  if (is.null(client)) client <- .client()
  metadata <- .with_monitor(metadata, monitor)
  if (!is.null(metadata)) metadata <- .to_json(metadata, "metadata")
  .Call(C_job_start, client, business_key, site_id, metadata)
}

#' Starts a sub-job of `job` (a job or sub-job; any depth).
subjob <- function(job, sub_key = NULL, metadata = NULL) {
  .Call(C_subjob_start, job, sub_key, .meta(metadata))
}

#' Emits "progress": fraction in [0, 1] or NULL/NA for none.
job_progress <- function(job, fraction = NULL, metadata = NULL) {
  .Call(C_job_progress, job, fraction, .meta(metadata))
  invisible(job)
}

#' Emits "heartbeat".
job_heartbeat <- function(job) {
  .Call(C_job_heartbeat, job)
  invisible(job)
}

#' Overrides a measured metric (duration_s, cpu_user_s, cpu_sys_s, mem_max_mb) on "finished".
job_set_metric <- function(job, name, value) {
  .Call(C_job_set_metric, job, name, value)
  invisible(job)
}

#' Finishes the job. For "failed", `error` is a condition (type = its first class, message = its
#' message) or a string (the message; type `error_type`, default "error").
job_finish <- function(job, status = "succeeded", error = NULL, error_type = NULL, metadata = NULL) {
  ptr <- job
  meta <- if (is.null(metadata)) NULL else .to_json(metadata, "metadata")
  if (!is.character(status) || length(status) != 1L) status <- ""
  switch(status,
    succeeded = .Call(C_job_succeed, ptr, meta),
    cancelled = .Call(C_job_cancel, ptr, meta),
    failed = {
      if (inherits(error, "condition")) {
        type <- if (is.null(error_type)) class(error)[[1]] else error_type
        msg <- conditionMessage(error)
      } else {
        type <- if (is.null(error_type)) "error" else error_type
        msg <- if (is.null(error)) NULL else paste(as.character(error), collapse = "\n")
      }
      .Call(C_job_fail, ptr, type, msg, meta)
    },
    stop_wafermon(1L, "status must be \"succeeded\", \"failed\" or \"cancelled\"")
  )
  invisible(job)
}

#' The job's entity_id (a UUID string).
job_id <- function(job) .Call(C_job_id, job)

#' TRUE once the job is finished (any outcome).
job_is_finished <- function(job) .Call(C_job_is_finished, job)

#' Releases the handle now (the garbage collector does it otherwise). A job still running is
#' finished as cancelled by the core; later use of the handle signals "handle is closed".
job_close <- function(job) {
  .Call(C_job_close, job)
  invisible(NULL)
}

#' The innermost job opened by with_job()/with_subjob() around the caller, or NULL.
current_job <- function() {
  n <- length(.wm$stack)
  if (n) .wm$stack[[n]] else NULL
}

.run_job <- function(job, expr_promise) {
  .wm$stack[[length(.wm$stack) + 1L]] <- job
  depth <- length(.wm$stack)
  cond <- NULL
  completed <- FALSE
  on.exit({
    length(.wm$stack) <- depth - 1L
    if (!completed && .Call(C_job_alive, job) && !.Call(C_job_is_finished, job)) {
      # Leaving by an error, an interrupt or another non-local exit (return(), a restart).
      tryCatch(
        if (inherits(cond, "interrupt")) {
          job_finish(job, "cancelled", metadata = list(wafermon.reason = "interrupted"))
        } else if (inherits(cond, "error")) {
          job_finish(job, "failed", error = cond)
        } else {
          job_finish(job, "succeeded")
        },
        wafermon_error = function(e) warning(e)
      )
    }
  }, add = TRUE)
  value <- withCallingHandlers(
    expr_promise(),
    error = function(e) cond <<- e,
    interrupt = function(i) cond <<- i
  )
  completed <- TRUE
  # Finished normally: an error signalled inside but handled there does not count.
  if (!.Call(C_job_is_finished, job)) job_finish(job, "succeeded")
  value
}

#' Runs `expr` as a job: succeeded when it completes, failed (condition class + message) when an
#' error leaves it (the error is then re-signalled unchanged), cancelled on an interrupt. Inside,
#' current_job() is the job. Returns the value of `expr`.
with_job <- function(expr, business_key = NULL, site_id = NULL, metadata = NULL, monitor = NULL) {
  job <- job_start(business_key = business_key, site_id = site_id, metadata = metadata, monitor = monitor)
  .run_job(job, function() expr)
}

#' Runs `expr` as a sub-job of `job` (default: the innermost with_job()/with_subjob()).
with_subjob <- function(expr, sub_key = NULL, metadata = NULL, job = current_job()) {
  if (is.null(job)) stop_wafermon(1L, "with_subjob() needs a parent job: call it inside with_job() or pass job =")
  sub <- subjob(job, sub_key = sub_key, metadata = metadata)
  .run_job(sub, function() expr)
}

#' @export
print.wafermon_job <- function(x, ...) {
  alive <- .Call(C_job_alive, x)
  state <- if (!alive) "closed" else if (job_is_finished(x)) "finished" else "running"
  id <- if (alive) job_id(x) else "?"
  cat("<wafermon_job ", id, " ", state, ">\n", sep = "")
  invisible(x)
}
