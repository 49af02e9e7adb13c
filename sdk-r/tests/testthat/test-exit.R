# Exit with a hung sidecar (accepts connections, never answers): R is gone within
# exit_flush_timeout + 0.5 s (docs/r.md), and every event is on the spool for the next start.
# The bound allows for Rscript's own start and a loaded machine; before the fix it took 4 x 30 s.

listen_nowhere <- function() {
  for (attempt in 1:50) {
    port <- sample(20000:60000, 1)
    sock <- tryCatch(serverSocket(port), error = function(e) NULL)
    if (!is.null(sock)) return(list(sock = sock, port = port))
  }
  stop("no free port for the hung sidecar")
}

test_that("exit with a hung sidecar is bounded and spools everything", {
  hole <- listen_nowhere() # a listener nobody accepts from: the kernel answers the handshake only
  d <- tempfile("wafermon-r-exit-")
  dir.create(d)
  on.exit(unlink(d, recursive = TRUE), add = TRUE)
  config <- sprintf(paste0(
    '{"sidecar": {"url": "http://127.0.0.1:%d", "timeout": 30, "retries": 3},',
    ' "spool": {"path": "%s"}, "exit_flush_timeout": 0.5, "flush_interval": 0.01,',
    ' "log_level": "off"}'
  ), hole$port, file.path(d, "spool"))
  script <- file.path(d, "child.R")
  writeLines(c(
    "library(wafermon)",
    "for (i in 1:20) with_job(Sys.sleep(0.002), business_key = paste0('hung-', i))"
  ), script)
  rscript <- file.path(R.home("bin"), "Rscript")
  took <- system.time(
    status <- system2(rscript, script, env = paste0("WAFERMON_CONFIG='", config, "'"))
  )[["elapsed"]]
  close(hole$sock)
  cat(sprintf("Rscript exit with a hung sidecar took %.2fs\n", took))
  expect_equal(status, 0)
  expect_lt(took, 0.5 + 6)
  # The port is refused now: a client on the same spool keeps it as it is and counts it.
  withr::with_envvar(c(WAFERMON_CONFIG = config), {
    wafermon_configure()
    pending <- wafermon_stats()[["spool_pending"]]
    wafermon_close(0.2)
  })
  expect_equal(pending, 40)
})
