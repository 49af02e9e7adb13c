test_that("errors are classed conditions carrying code, name and message", {
  d <- direct_dir()
  j <- job_start()
  job_finish(j)
  e <- tryCatch(job_heartbeat(j), error = function(e) e)
  expect_s3_class(e, c("wafermon_StateError", "wafermon_error", "error", "condition"), exact = TRUE)
  expect_equal(e$code, 8L)
  expect_equal(e$name, "StateError")
  expect_equal(e$status, "WM_E_STATE")
  expect_match(conditionMessage(e), "already finished")
  expect_error(job_finish(j), class = "wafermon_StateError")
  expect_error(job_progress(job_start(), 1.5), class = "wafermon_InvalidArgumentError")
})

test_that("metadata must be a named list of serialisable values, named in the error", {
  d <- direct_dir()
  expect_error(job_start(metadata = list(1, 2)), class = "wafermon_MetadataError")
  expect_error(job_start(metadata = "text"), class = "wafermon_MetadataError")
  expect_error(job_start(metadata = 3), class = "wafermon_MetadataError")
  e <- tryCatch(job_start(metadata = list(ok = 1, bad = list(fn = sum))), error = function(e) e)
  expect_s3_class(e, "wafermon_MetadataError")
  expect_match(conditionMessage(e), "\"bad.fn\" is a function")
  expect_error(job_start(metadata = list(x = new.env())), "\"x\" is an environment", class = "wafermon_MetadataError")
  expect_error(job_start(metadata = list(x = Inf)), "\"x\" is NaN or infinite", class = "wafermon_MetadataError")
  expect_error(job_start(metadata = list(d = Sys.Date())), "class \"Date\"", class = "wafermon_MetadataError")
  expect_error(job_start(metadata = list(a = 1, a = 2)), "twice", class = "wafermon_MetadataError")
  expect_error(job_start(metadata = list(a = 1, 2)), "without a name", class = "wafermon_MetadataError")
  expect_error(job_start(metadata = list(raw = as.raw(1))), "raw vector", class = "wafermon_MetadataError")
})

test_that("metadata serialises unicode, nesting, vectors, NA and large values exactly", {
  d <- direct_dir()
  big <- strrep("x", 50000)
  md <- list(u = "wafer \u00e9\u6f22\u5b57 \U0001F600", q = "a\"b\\c\nd\te\001",
             nested = list(a = list(b = list(c = TRUE))), v = c(1L, 2L, NA), l = list(1, "two", NULL),
             na = NA, f = factor("lvl"), big = big, one = I(1), num = 0.1, neg = -2.5e-10,
             empty = list(), named_empty = setNames(list(), character()))
  j <- job_start(metadata = md)
  job_finish(j)
  got <- events_of(read_events(d), job_id(j))[[1]]$metadata
  expect_equal(got$u, md$u)
  expect_equal(got$q, md$q)
  expect_true(got$nested$a$b$c)
  expect_equal(got$v, list(1L, 2L, NULL))
  expect_equal(got$l, list(1L, "two", NULL))
  expect_null(got$na)
  expect_equal(got$f, "lvl")
  expect_equal(nchar(got$big), 50000)
  expect_equal(got$one, list(1L))
  expect_equal(got$num, 0.1)
  expect_equal(got$neg, -2.5e-10)
  expect_equal(to_json(list(empty = list(), named_empty = setNames(list(), character()))),
               "{\"empty\":[],\"named_empty\":{}}")
  expect_equal(to_json(list(), "metadata"), "{}")
  expect_null(to_json(NULL, "metadata"))
  # Digits: 15 where they give the value back (jsonlite's own form), else 17.
  expect_equal(to_json(list(p = 0.1 + 0.2, third = 1 / 3, num = 0.1, big = 1e300, v = c(0.5, NA, 0.1 + 0.2))),
               "{\"p\":0.30000000000000004,\"third\":0.33333333333333331,\"num\":0.1,\"big\":1e+300,\"v\":[0.5,null,0.30000000000000004]}")
  expect_error(to_json(list(v = c(1, NaN)), "metadata"), "\"v\\[2\\]\" is NaN or infinite", class = "wafermon_MetadataError")
})

test_that("metadata above the core's 64 KiB limit is a TooLargeError", {
  d <- direct_dir()
  expect_error(job_start(metadata = list(x = strrep("y", 70000))), class = "wafermon_TooLargeError")
})

test_that("bad configuration is a ConfigError naming the key", {
  on.exit(wafermon_close())
  expect_error(wafermon_configure(mode = "carrier-pigeon"), "mode", class = "wafermon_ConfigError")
  expect_error(wafermon_configure(nonsense = 1), "nonsense", class = "wafermon_ConfigError")
  expect_error(wafermon_configure(batch_size = sum), "batch_size", class = "wafermon_ConfigError")
  expect_error(wafermon_configure("x"), class = "wafermon_ConfigError")
})

test_that("handles check class and liveness", {
  d <- direct_dir()
  j <- job_start()
  job_close(j)
  e <- tryCatch(job_heartbeat(j), error = function(e) e)
  expect_s3_class(e, "wafermon_ClosedError")
  expect_equal(conditionMessage(e), "handle is closed")
  expect_error(job_heartbeat(list(ptr = 1)), class = "wafermon_InvalidArgumentError")
  fake <- structure(list(ptr = 1), class = "wafermon_job")
  expect_error(job_heartbeat(fake), "expected a wafermon_job handle", class = "wafermon_InvalidArgumentError")
  expect_output(print(j), "closed")
})

test_that("a job left running is cancelled by the finalizer when garbage-collected", {
  d <- direct_dir()
  j <- job_start(business_key = "forgotten")
  id <- job_id(j)
  rm(j)
  invisible(gc())
  fin <- events_of(read_events(d), id)[[2]]
  expect_equal(fin$status, "cancelled")
  expect_equal(fin$metadata$wafermon.reason, "handle destroyed while running")
})

test_that("jobs of a closed client report ClosedError, and a new client takes over", {
  d <- direct_dir()
  j <- job_start()
  wafermon_close()
  expect_error(job_heartbeat(j), class = "wafermon_ClosedError")
  d2 <- direct_dir()
  k <- job_start()
  job_finish(k)
  expect_equal(length(events_of(read_events(d2), job_id(k))), 2)
})
