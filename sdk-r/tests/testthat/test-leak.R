test_that("no memory growth over many jobs on every path (after a warm-up round)", {
  skip_if_not(file.exists("/proc/self/status"))
  rss_kb <- function() {
    line <- grep("^VmRSS:", readLines("/proc/self/status"), value = TRUE)
    as.numeric(gsub("[^0-9]", "", line))
  }
  d <- direct_dir()
  rss <- numeric()
  for (round in 1:4) {
    for (i in 1:2000) {
      with_job({
        job_progress(current_job(), 0.5, list(k = list(1, "x")))
        with_subjob(NULL, sub_key = "w")
      })
      try(with_job(stop("x")), silent = TRUE)
      try(job_start(metadata = list(f = sum)), silent = TRUE)
      job_close(job_start())
    }
    wafermon_flush(60)
    invisible(gc())
    rss[round] <- rss_kb()
  }
  expect_lt(rss[4] - rss[2], 2048, label = paste("growth in kB from round 2 to 4:", paste(rss, collapse = " ")))
})
