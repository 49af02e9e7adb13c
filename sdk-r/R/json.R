# R values -> JSON text for metadata and configuration: jsonlite writes it; the walk below first
# refuses what JSON cannot carry, with an error naming the key path, and settles the shapes.
#
# named list -> object (every element needs a unique, non-empty name); unnamed list -> array;
# atomic vector of length 1 -> scalar, other lengths (or class "AsIs") -> array (names and dims
# dropped); NULL and NA -> null; logical -> true/false; integer/double -> number (NaN and +-Inf are
# refused; a double is written with 15 significant digits, or 17 when 15 do not give it back);
# character and factor -> string (UTF-8). Anything else (functions, environments, complex, raw, S4,
# Date, data frames, ...) is refused with a MetadataError (ConfigError for configuration) naming
# the key.

.json_max_depth <- 64L

# Signals the refusal of the value at `path` ("" for the whole value); `what` is what is wrong.
.json_refuse <- function(path, what) {
  stop(structure(class = c("wafermon_json_refusal", "error", "condition"),
                 list(message = if (nzchar(path)) sprintf("value at \"%s\" %s", path, what)
                                else paste("the value", what), call = NULL)))
}

.json_kind <- function(x) {
  if (is.function(x)) return("is a function")
  switch(typeof(x),
    environment = "is an environment",
    externalptr = "is an external pointer",
    complex = "is a complex number",
    raw = "is a raw vector",
    symbol = , language = "is a language object",
    S4 = "is an S4 object",
    NULL
  )
}

# A double vector as jsonlite writes it (15 significant digits), or as verbatim JSON when one of
# its values needs 17 digits to come back unchanged.
.json_double <- function(x, array) {
  finite <- !is.na(x)
  short <- sprintf("%.15g", x[finite])
  exact <- as.numeric(short) == x[finite]
  if (all(exact)) return(if (array) I(x) else x)
  text <- rep("null", length(x))
  text[finite] <- ifelse(exact, short, sprintf("%.17g", x[finite]))
  structure(if (array) paste0("[", paste(text, collapse = ","), "]") else text, class = "json")
}

.json_atomic <- function(x, path) {
  as_is <- inherits(x, "AsIs")
  klass <- oldClass(x)
  if (!is.null(klass) && !is.factor(x) && !as_is) {
    .json_refuse(path, sprintf(paste0("has class \"%s\", which is not serialised implicitly: ",
                                      "convert it first (e.g. format() or as.character())"), klass[[1]]))
  }
  if (is.factor(x)) x <- as.character(x)
  x <- as.vector(unclass(x))
  array <- as_is || length(x) != 1L
  if (is.double(x)) {
    bad <- which(is.nan(x) | is.infinite(x))
    if (length(bad)) {
      .json_refuse(if (array) sprintf("%s[%d]", path, bad[[1]]) else path,
                   "is NaN or infinite, which JSON cannot hold")
    }
    return(.json_double(x, array))
  }
  if (is.character(x)) x <- enc2utf8(x)
  if (array) I(x) else x
}

.json_list <- function(x, path, depth) {
  if (is.object(x) && !inherits(x, "AsIs") && !inherits(x, "list")) {
    .json_refuse(path, sprintf(paste0("has class \"%s\", which is not serialised implicitly: ",
                                      "convert it to a plain list first"), oldClass(x)[[1]]))
  }
  keys <- names(x)
  out <- vector("list", length(x))
  if (is.null(keys)) {
    for (i in seq_along(x)) {
      v <- .json_walk(x[[i]], sprintf("%s[%d]", path, i), depth + 1L)
      if (!is.null(v)) out[[i]] <- v
    }
    return(out)
  }
  unnamed <- which(is.na(keys) | !nzchar(keys))
  if (length(unnamed)) {
    .json_refuse(path, sprintf("has an element without a name (position %d)", unnamed[[1]]))
  }
  keys <- enc2utf8(keys)
  twice <- which(duplicated(keys))
  if (length(twice)) .json_refuse(path, sprintf("has the name \"%s\" twice", keys[[twice[[1]]]]))
  for (i in seq_along(x)) {
    v <- .json_walk(x[[i]], if (nzchar(path)) paste0(path, ".", keys[[i]]) else keys[[i]], depth + 1L)
    if (!is.null(v)) out[[i]] <- v
  }
  names(out) <- keys
  out
}

# `x` checked and reshaped so that jsonlite writes it as described above; refuses with
# .json_refuse() naming the first value at fault.
.json_walk <- function(x, path, depth) {
  if (depth > .json_max_depth) .json_refuse(path, "is nested more than 64 levels deep")
  if (is.null(x)) return(NULL)
  kind <- .json_kind(x)
  if (!is.null(kind)) .json_refuse(path, paste0(kind, ", which cannot be serialised to JSON"))
  switch(typeof(x),
    logical = , integer = , double = , character = .json_atomic(x, path),
    list = .json_list(x, path, depth),
    .json_refuse(path, "cannot be serialised to JSON")
  )
}

# to_json(x, what): what = "metadata" (must be an object; NULL -> NULL; list() -> "{}") or
# "config" (the same, errors are ConfigError) or "value" (anything serialisable).
.to_json <- function(x, what) {
  code <- if (what == "config") 2L else 4L # WM_E_CONFIG, WM_E_METADATA
  if (what != "value") {
    if (is.null(x)) return(NULL)
    if (is.list(x) && length(x) == 0L) return("{}")
    if (!is.list(x) || is.null(names(x))) {
      stop_wafermon(code, sprintf(
        "%s must be a JSON object: a named list such as list(step = \"etch\"), got %s", what,
        if (is.list(x)) "an unnamed list" else typeof(x)))
    }
  }
  value <- tryCatch(.json_walk(x, "", 0L), wafermon_json_refusal = function(e) {
    stop_wafermon(code, paste0(what, ": ", conditionMessage(e)))
  })
  as.character(jsonlite::toJSON(value, auto_unbox = TRUE, null = "null", na = "null", digits = NA,
                                json_verbatim = TRUE))
}
