test_that("queue.when_full = drop: an emit into a full queue is counted, never an error", {
  d <- tempfile("wafermon-r-")
  dir.create(d)
  withr::defer({
    wafermon_close()
    unlink(d, recursive = TRUE)
  })
  # A batch larger than the queue and a long interval: nothing drains until the flush.
  wafermon_configure(
    mode = "direct",
    direct_backends = list(list(type = "filesystem", path = file.path(d, "out"))),
    spool = list(path = file.path(d, "spool")),
    queue = list(size = 5L, when_full = "drop"),
    batch_size = 1000L,
    flush_interval = 60
  )
  for (i in 1:10) { # 20 events into a queue of 5: no queue-full condition from any of them
    expect_no_error(job_finish(job_start(business_key = "dropping")))
  }
  stats <- wafermon_stats()
  expect_equal(stats[["emitted"]], 5)
  expect_equal(stats[["dropped"]], 15)
  wafermon_flush(10)
  expect_equal(wafermon_stats()[["delivered"]], 5)
})
