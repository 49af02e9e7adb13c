/* The configuration schema, one row per key (after librdkafka's rd_kafka_properties[]). A new key
 * is one row here plus its field in wm__config; config.c reads, checks and layers every key from
 * these rows, and `wm_config_doc --write docs/c-core.md` regenerates the table in the docs. */
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char *program_name(void) {
    char buf[PATH_MAX];
    FILE *f = fopen("/proc/self/comm", "r");
    if (f) {
        if (fgets(buf, sizeof buf, f)) {
            buf[strcspn(buf, "\n")] = '\0';
            fclose(f);
            if (buf[0])
                return strdup(buf);
        } else {
            fclose(f);
        }
    }
    return strdup("app");
}

/* $XDG_STATE_HOME/wafermon/spool, ~/.local/state/wafermon/spool, else /tmp/wafermon-<uid>/spool. */
static char *default_spool_path(void) {
    char buf[PATH_MAX];
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    if (!home || !home[0]) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (xdg && xdg[0] == '/')
        snprintf(buf, sizeof buf, "%s/wafermon/spool", xdg);
    else if (home && home[0] == '/' && access(home, W_OK) == 0)
        snprintf(buf, sizeof buf, "%s/.local/state/wafermon/spool", home);
    else
        snprintf(buf, sizeof buf, "/tmp/wafermon-%u/spool", (unsigned)getuid());
    return strdup(buf);
}

#define KEY(field) .offset = offsetof(wm__config, field)
#define BACKEND(field) .offset = offsetof(wm__backend_config, field)
#define TEXT(name) #name
#define NUM(value) TEXT(value)

_Static_assert(sizeof(wm__mode) == sizeof(int) && sizeof(wm__when_full) == sizeof(int) &&
                   sizeof(wm__log_level) == sizeof(int),
               "WM__KEY_CHOICE fields are stored as int");

const wm__config_key wm__config_keys[] = {
    {.name = "mode",
     .env = "WAFERMON_MODE",
     .type = WM__KEY_CHOICE,
     KEY(mode),
     .def = "sidecar",
     .choices = "sidecar|direct",
     .help = "`sidecar`, or `direct` to the `direct_backends` below"},
    {.name = "sidecar.url",
     .env = "WAFERMON_SIDECAR_URL",
     .type = WM__KEY_STRING,
     KEY(sidecar_url),
     .min = 1,
     .max = 2048,
     .def = "http://127.0.0.1:17000",
     .flags = WM__KEY_HTTP_URL,
     .help = "POSTs go to `<url>/v1/ingest/events:batch`"},
    {.name = "sidecar.timeout",
     .env = "WAFERMON_SIDECAR_TIMEOUT",
     .type = WM__KEY_NUMBER,
     KEY(sidecar_timeout_s),
     .min = 0.001,
     .max = 3600,
     .def = "5",
     .help = "seconds per request (connect and total)"},
    {.name = "sidecar.retries",
     .env = "WAFERMON_SIDECAR_RETRIES",
     .type = WM__KEY_INT,
     KEY(sidecar_retries),
     .min = 0,
     .max = 100,
     .def = "3",
     .help = "attempts after the first, while the sidecar is up"},
    {.name = "sidecar.token",
     .env = "WAFERMON_SIDECAR_TOKEN",
     .type = WM__KEY_STRING,
     KEY(sidecar_token),
     .min = 1,
     .max = 4096,
     .flags = WM__KEY_NULLABLE,
     .help = "sent as `Authorization: Bearer …`"},
    {.name = "sidecar.gzip",
     .env = "WAFERMON_SIDECAR_GZIP",
     .type = WM__KEY_BOOL,
     KEY(sidecar_gzip),
     .def = "false",
     .help = "`Content-Encoding: gzip` bodies"},
    {.name = "app.name",
     .env = "WAFERMON_APP_NAME",
     .type = WM__KEY_STRING,
     KEY(app_name),
     .min = 1,
     .max = 128,
     .computed_default = program_name,
     .doc_default = "program name",
     .help = "the `app.name` of every event (unless a job gives its own)"},
    {.name = "app.version",
     .env = "WAFERMON_APP_VERSION",
     .type = WM__KEY_STRING,
     KEY(app_version),
     .min = 0,
     .max = 128,
     .def = "unknown",
     .help = "the `app.version`"},
    {.name = "app.site_id",
     .env = "WAFERMON_SITE_ID",
     .type = WM__KEY_STRING,
     KEY(site_id),
     .min = 1,
     .max = 128,
     .def = "default",
     .help = "used when a job gives none"},
    {.name = "spool.enabled",
     .env = "WAFERMON_SPOOL_ENABLED",
     .type = WM__KEY_BOOL,
     KEY(spool_enabled),
     .def = "true",
     .help = "false: undeliverable events are dropped (counted)"},
    {.name = "spool.path",
     .env = "WAFERMON_SPOOL_DIR",
     .type = WM__KEY_STRING,
     KEY(spool_path),
     .min = 1,
     .max = PATH_MAX - 128,
     .computed_default = default_spool_path,
     .doc_default = "`$XDG_STATE_HOME/wafermon/spool`, else `~/.local/state/wafermon/spool`, "
                    "else `/tmp/wafermon-<uid>/spool`",
     .help = "the spool directory (slots, segments, dead-letter file)"},
    {.name = "spool.max_size_mb",
     .env = "WAFERMON_SPOOL_MAX_MB",
     .type = WM__KEY_MEGABYTES,
     KEY(spool_max_bytes),
     .min = 1,
     .max = 1024.0 * 1024.0,
     .def = "512",
     .help = "cap over all targets (split evenly between them)"},
    {.name = "queue.size",
     .env = "WAFERMON_QUEUE_SIZE",
     .type = WM__KEY_SIZE,
     KEY(queue_size),
     .min = 1,
     .max = 10 * 1000 * 1000,
     .def = "10000",
     .help = "events held in memory"},
    {.name = "queue.when_full",
     .env = "WAFERMON_QUEUE_WHEN_FULL",
     .type = WM__KEY_CHOICE,
     KEY(when_full),
     .def = "spool",
     .choices = "spool|drop",
     .help = "`spool`: the caller spools the event itself; `drop`: it is dropped and counted"},
    {.name = "batch_size",
     .env = "WAFERMON_BATCH_SIZE",
     .type = WM__KEY_SIZE,
     KEY(batch_size),
     .min = 1,
     .max = WM__BATCH_SIZE_MAX,
     .def = "500",
     .why = "the most events the sidecar takes in one request",
     .help = "events per request/write (the sidecar's `ingest.max_events_per_request`)"},
    {.name = "batch_max_bytes",
     .env = "WAFERMON_BATCH_MAX_BYTES",
     .type = WM__KEY_SIZE,
     KEY(batch_max_bytes),
     .min = WM__BATCH_BYTES_MIN,
     .max = WM__BATCH_BYTES_MAX,
     .def = NUM(4194304),
     .help = "NDJSON bytes per request/write and per spool record, uncompressed (at most the "
             "sidecar's default `ingest.max_body_bytes`)"},
    {.name = "flush_interval",
     .env = "WAFERMON_FLUSH_INTERVAL",
     .type = WM__KEY_NUMBER,
     KEY(flush_interval_s),
     .min = 0.001,
     .max = 3600,
     .def = "0.2",
     .help = "seconds a partial batch may wait"},
    {.name = "exit_flush_timeout",
     .env = "WAFERMON_EXIT_FLUSH_TIMEOUT",
     .type = WM__KEY_NUMBER,
     KEY(exit_flush_timeout_s),
     .min = 0,
     .max = 3600,
     .def = "2",
     .help = "bound on process exit (and on `wm_client_close` given a negative timeout): gone "
             "within it + 0.5 s"},
    {.name = "log_level",
     .env = "WAFERMON_LOG_LEVEL",
     .type = WM__KEY_CHOICE,
     KEY(log_level),
     .def = "warn",
     .choices = "off|error|warn|info|debug",
     .help = "diagnostics on stderr"},
    {.name = "sdk.lang",
     .type = WM__KEY_STRING,
     KEY(sdk_lang),
     .min = 1,
     .max = 16,
     .def = "c",
     .choices = "c|python|java|r|perl",
     .help = "set by each SDK"},
    {.name = "sdk.version",
     .type = WM__KEY_STRING,
     KEY(sdk_version),
     .min = 1,
     .max = 64,
     .def = WAFERMON_VERSION_STRING,
     .help = "set by each SDK"},
};
const size_t wm__config_n_keys = sizeof wm__config_keys / sizeof wm__config_keys[0];

const wm__config_key wm__backend_keys[] = {
    {.name = "type",
     .type = WM__KEY_STRING,
     BACKEND(type),
     .min = 1,
     .max = 64,
     .choices = "filesystem",
     .why = "the only direct backend so far",
     .flags = WM__KEY_REQUIRED,
     .help = "the kind of backend"},
    {.name = "name",
     .type = WM__KEY_STRING,
     BACKEND(name),
     .min = 1,
     .max = 128,
     .help = "names the backend in logs, in the dead-letter file's `target` and for "
             "`wm_client_backend_stat`; unique"},
    {.name = "path",
     .env = WM__FILESYSTEM_PATH_ENV,
     .type = WM__KEY_STRING,
     BACKEND(path),
     .min = 1,
     .max = PATH_MAX - 64,
     .flags = WM__KEY_REQUIRED,
     .help = "filesystem: the directory of `events-*.jsonl` (the variable configures one "
             "filesystem backend)"},
    {.name = "format",
     .type = WM__KEY_STRING,
     BACKEND(format),
     .min = 1,
     .max = 16,
     .def = "jsonl",
     .choices = "jsonl",
     .help = "filesystem: one event per line"},
    {.name = "max_file_mb",
     .type = WM__KEY_MEGABYTES,
     BACKEND(max_file_bytes),
     .min = 0.001,
     .max = 1024 * 1024,
     .def = "64",
     .help = "filesystem: a file is rotated above this size"},
    {.name = "fsync",
     .type = WM__KEY_BOOL,
     BACKEND(fsync),
     .def = "true",
     .help = "filesystem: `fdatasync` each write"},
};
const size_t wm__backend_n_keys = sizeof wm__backend_keys / sizeof wm__backend_keys[0];
