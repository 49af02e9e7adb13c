test_that("status table comes from the core and names every exception", {
  tab <- wafermon_status_table()
  expect_true(all(c("ConfigError", "MetadataError", "StateError", "ForkedError") %in% tab$exception))
  expect_equal(tab$code[tab$exception == "MetadataError"], 4L)
})

test_that("a job that succeeds emits started and finished with metrics", {
  d <- direct_dir()
  job <- job_start(business_key = "b-1", site_id = "fab1", metadata = list(k = 1L))
  id <- job_id(job)
  expect_match(id, "^[0-9a-f-]{36}$")
  expect_false(job_is_finished(job))
  job_finish(job)
  expect_true(job_is_finished(job))
  ev <- events_of(read_events(d), id)
  expect_equal(vapply(ev, `[[`, "", "event_kind"), c("started", "finished"))
  expect_equal(ev[[1]]$business_key, "b-1")
  expect_equal(ev[[1]]$site_id, "fab1")
  expect_equal(ev[[1]]$metadata, list(k = 1L))
  expect_equal(ev[[1]]$sdk$lang, "r")
  expect_equal(ev[[1]]$sdk$version, as.character(packageVersion("wafermon")))
  expect_equal(ev[[2]]$status, "succeeded")
  expect_equal(ev[[2]]$seq, 1L)
  expect_true(all(c("duration_s", "cpu_user_s", "cpu_sys_s", "mem_max_mb") %in% names(ev[[2]]$metrics)))
})

test_that("progress, heartbeat, failed and cancelled arrive with their fields", {
  d <- direct_dir()
  a <- job_start(business_key = "a")
  job_progress(a, 0.25, metadata = list(step = "etch"))
  job_progress(a, NULL)
  job_heartbeat(a)
  job_finish(a, "failed", error = simpleError("bad wafer"))
  b <- job_start(business_key = "b")
  job_finish(b, "failed", error = "plain text", error_type = "ValueError")
  c <- job_start(business_key = "c")
  job_finish(c, "cancelled")
  ev <- read_events(d)
  ea <- events_of(ev, job_id(a))
  expect_equal(vapply(ea, `[[`, "", "event_kind"), c("started", "progress", "progress", "heartbeat", "finished"))
  expect_equal(ea[[2]]$progress, 0.25)
  expect_equal(ea[[2]]$metadata$step, "etch")
  expect_null(ea[[3]]$progress)
  expect_equal(ea[[5]]$status, "failed")
  expect_equal(ea[[5]]$error, list(type = "simpleError", message = "bad wafer"))
  eb <- events_of(ev, job_id(b))
  expect_equal(eb[[2]]$error, list(type = "ValueError", message = "plain text"))
  expect_equal(events_of(ev, job_id(c))[[2]]$status, "cancelled")
  expect_equal(wafermon_stats()[["emitted"]], 9)
})

test_that("nested sub-jobs three deep carry parent ids and keys", {
  d <- direct_dir()
  j <- job_start(business_key = "lot-9")
  w <- subjob(j, "wafer-1")
  die <- subjob(w, "die-1", metadata = list(x = 3))
  s <- subjob(die, "site-1")
  for (h in list(s, die, w, j)) job_finish(h)
  ev <- read_events(d)
  expect_equal(events_of(ev, job_id(w))[[1]]$parent_id, job_id(j))
  expect_equal(events_of(ev, job_id(die))[[1]]$parent_id, job_id(w))
  st <- events_of(ev, job_id(s))[[1]]
  expect_equal(st$parent_id, job_id(die))
  expect_equal(st$entity_type, "subjob")
  expect_equal(st$sub_key, "site-1")
  expect_equal(st$business_key, "lot-9")
  expect_equal(events_of(ev, job_id(die))[[1]]$metadata, list(x = 3L))
})

test_that("events still queued when R exits are flushed (client finalizer on exit)", {
  d <- tempfile("wafermon-r-exit-")
  dir.create(d)
  on.exit(unlink(d, recursive = TRUE))
  script <- file.path(d, "exit.R")
  writeLines(c(
    "library(wafermon)",
    "d <- commandArgs(TRUE)[[1]]",
    "wafermon_configure(mode = 'direct', direct_backends = list(list(type = 'filesystem', path = file.path(d, 'out'))),",
    "                   spool = list(path = file.path(d, 'spool')))",
    "for (i in 1:300) with_job(NULL, business_key = 'at-exit')"
  ), script)
  rscript <- file.path(R.home("bin"), "Rscript")
  status <- system2(rscript, c(script, d), env = paste0("R_LIBS=", paste(.libPaths(), collapse = ":")))
  expect_equal(status, 0)
  lines <- unlist(lapply(list.files(file.path(d, "out"), full.names = TRUE), readLines))
  expect_equal(length(lines), 600)
})

test_that("a monitor declared from code travels in the started event's metadata", {
  d <- direct_dir()
  job <- job_start(business_key = "nightly-backup", metadata = list(recipe = "r7"),
                   monitor = list(schedule = "0 2 * * *", tz = "Europe/Berlin", max_runtime_s = 3600L))
  job_finish(job)
  with_job(NULL, business_key = "hourly", monitor = list(interval_s = 3600L))
  ev <- read_events(d)
  started <- Filter(function(e) identical(e$event_kind, "started"), ev)
  expect_equal(started[[1]]$metadata, list(recipe = "r7", wafermon.monitor = list(
    schedule = "0 2 * * *", tz = "Europe/Berlin", max_runtime_s = 3600L)))
  expect_equal(started[[2]]$metadata, list(wafermon.monitor = list(interval_s = 3600L)))
  expect_error(job_start(monitor = "0 2 * * *"), class = "wafermon_InvalidArgumentError")
})
