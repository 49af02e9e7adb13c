# Runs the example of sdk-r/README.md (and docs/r.md, when the repository is around) verbatim.
readme_example <- function(path) {
  lines <- readLines(path, encoding = "UTF-8")
  start <- which(lines == "```r")[1]
  end <- which(lines == "```")
  end <- end[end > start][1]
  lines[(start + 1):(end - 1)]
}

for (doc in c("README.md", "docs/r.md")) {
  test_that(paste("the example in", doc, "runs and its events arrive"), {
    root <- Sys.getenv("WAFERMON_R_SOURCE", "../..")
    path <- if (doc == "README.md") file.path(root, doc) else file.path(root, "..", doc)
    skip_if_not(file.exists(path), paste(path, "not found (set WAFERMON_R_SOURCE to sdk-r/)"))
    on.exit(wafermon_close())
    out <- file.path(tempdir(), "wafermon-events")
    unlink(out, recursive = TRUE)
    env <- new.env(parent = globalenv())
    expect_message(eval(parse(text = readme_example(path)), envir = env), "chamber 3 offline")
    expect_equal(env$result, "lot done")
    files <- list.files(out, pattern = "[.]jsonl$", full.names = TRUE)
    ev <- lapply(unlist(lapply(files, readLines)), jsonlite::fromJSON, simplifyVector = FALSE)
    kinds <- vapply(ev, function(e) paste(e$entity_type, e$event_kind, e$status), "")
    expect_equal(sum(kinds == "subjob finished succeeded"), 3)
    expect_equal(sum(kinds == "job finished succeeded"), 1)
    expect_equal(sum(kinds == "job finished failed"), 1)
  })
}
