# Every test file sends to the direct filesystem backend in its own temp dir and reads it back.
direct_dir <- function(env = parent.frame()) {
  d <- tempfile("wafermon-r-")
  dir.create(d)
  wafermon_configure(
    mode = "direct",
    direct_backends = list(list(type = "filesystem", path = file.path(d, "out"))),
    spool = list(path = file.path(d, "spool")),
    app = list(name = "r-tests", site_id = "fab-test"),
    flush_interval = 0.05
  )
  withr::defer({
    wafermon_close()
    unlink(d, recursive = TRUE)
  }, envir = env)
  d
}

read_events <- function(d) {
  wafermon_flush(10)
  files <- list.files(file.path(d, "out"), pattern = "[.]jsonl$", full.names = TRUE)
  lines <- unlist(lapply(files, readLines, encoding = "UTF-8"))
  lapply(lines, jsonlite::fromJSON, simplifyVector = FALSE)
}

events_of <- function(events, id) Filter(function(e) identical(e$entity_id, id), events)
