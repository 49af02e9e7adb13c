test_that("with_job returns the value and succeeds; with_subjob nests under current_job()", {
  d <- direct_dir()
  ids <- list()
  v <- with_job({
    ids$job <- job_id(current_job())
    with_subjob({
      ids$sub <- job_id(current_job())
      with_subjob(ids$leaf <- job_id(current_job()), sub_key = "die-1")
      job_progress(current_job(), 1)
    }, sub_key = "wafer-1")
    "done"
  }, business_key = "b-1", site_id = "fab2", metadata = list(who = "test"))
  expect_equal(v, "done")
  expect_null(current_job())
  ev <- read_events(d)
  ej <- events_of(ev, ids$job)
  expect_equal(ej[[1]]$site_id, "fab2")
  expect_equal(ej[[1]]$metadata$who, "test")
  expect_equal(ej[[2]]$status, "succeeded")
  expect_equal(events_of(ev, ids$sub)[[1]]$parent_id, ids$job)
  expect_equal(events_of(ev, ids$leaf)[[1]]$parent_id, ids$sub)
  expect_equal(events_of(ev, ids$leaf)[[2]]$status, "succeeded")
})

test_that("an error inside with_job fails the job with class and message, then re-signals", {
  d <- direct_dir()
  id <- NULL
  err <- tryCatch(
    with_job({
      id <- job_id(current_job())
      stop("wafer cracked")
    }, business_key = "b-err"),
    error = function(e) e
  )
  expect_s3_class(err, "simpleError")
  expect_equal(conditionMessage(err), "wafer cracked")
  fin <- events_of(read_events(d), id)[[2]]
  expect_equal(fin$status, "failed")
  expect_equal(fin$error$type, "simpleError")
  expect_equal(fin$error$message, "wafer cracked")
})

test_that("custom condition classes are reported; handled errors inside do not fail the job", {
  d <- direct_dir()
  ids <- c()
  cond <- structure(class = c("etch_error", "error", "condition"),
                    list(message = "chamber 3 offline", call = NULL))
  expect_error(with_job({ ids <- c(ids, job_id(current_job())); stop(cond) }), class = "etch_error")
  with_job({
    ids <- c(ids, job_id(current_job()))
    try(stop("caught inside"), silent = TRUE)
    tryCatch(stop("also caught"), error = function(e) NULL)
  })
  ev <- read_events(d)
  expect_equal(events_of(ev, ids[[1]])[[2]]$error$type, "etch_error")
  expect_equal(events_of(ev, ids[[2]])[[2]]$status, "succeeded")
})

test_that("an interrupt cancels the job; a return() out of with_job succeeds it", {
  d <- direct_dir()
  ids <- c()
  intr <- structure(class = c("interrupt", "condition"), list())
  r <- tryCatch(with_job({ ids <- c(ids, job_id(current_job())); signalCondition(intr); "no" }),
                interrupt = function(i) "interrupted")
  expect_equal(r, "interrupted")
  f <- function() {
    with_job({ ids <<- c(ids, job_id(current_job())); return("early") })
    "late"
  }
  expect_equal(f(), "early")
  ev <- read_events(d)
  fin <- events_of(ev, ids[[1]])[[2]]
  expect_equal(fin$status, "cancelled")
  expect_equal(fin$metadata$wafermon.reason, "interrupted")
  expect_equal(events_of(ev, ids[[2]])[[2]]$status, "succeeded")
})

test_that("finishing explicitly inside with_job is respected", {
  d <- direct_dir()
  id <- NULL
  with_job({ id <- job_id(current_job()); job_finish(current_job(), "cancelled") })
  expect_equal(events_of(read_events(d), id)[[2]]$status, "cancelled")
})

test_that("with_subjob outside a job is an InvalidArgumentError", {
  expect_error(with_subjob(1), class = "wafermon_InvalidArgumentError")
})

test_that("a real SIGINT (Ctrl-C) inside with_job cancels the job and reaches the caller", {
  skip_on_os("windows")
  d <- direct_dir()
  id <- NULL
  r <- tryCatch(
    with_job({
      id <- job_id(current_job())
      tools::pskill(Sys.getpid(), tools::SIGINT)
      Sys.sleep(5)
      "not interrupted"
    }, business_key = "sigint"),
    interrupt = function(i) "interrupted"
  )
  expect_equal(r, "interrupted")
  fin <- events_of(read_events(d), id)[[2]]
  expect_equal(fin$status, "cancelled")
  expect_equal(fin$metadata$wafermon.reason, "interrupted")
})
