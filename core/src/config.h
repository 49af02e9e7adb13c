/* Internal: the client configuration, assembled from defaults, file, environment and caller. */
#ifndef WM_CONFIG_H
#define WM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "wafermon.h"

#define WM__MAX_BACKENDS 8
/* The sidecar's documented request limits (ingest.max_events_per_request, ingest.max_body_bytes
 * defaults): a batch_size or batch_max_bytes above them would have every full batch refused. */
#define WM__BATCH_SIZE_MAX 10000
#define WM__BATCH_BYTES_MAX (16u * 1024u * 1024u)
#define WM__BATCH_BYTES_MIN (64u * 1024u)

typedef enum wm__mode { WM__MODE_SIDECAR = 0, WM__MODE_DIRECT = 1 } wm__mode;
typedef enum wm__when_full { WM__WHEN_FULL_SPOOL = 0, WM__WHEN_FULL_DROP = 1 } wm__when_full;

typedef struct wm__backend_config {
    char *type; /* "filesystem" */
    char *path;
    char *format; /* "jsonl" */
    uint64_t max_file_bytes;
    bool fsync;
    char *name; /* the user's name for it, NULL for none: in logs and dead letters */
} wm__backend_config;

typedef struct wm__config {
    wm__mode mode;
    char *sidecar_url;
    double sidecar_timeout_s;
    int sidecar_retries;
    char *sidecar_token;
    bool sidecar_gzip;
    size_t n_backends;
    wm__backend_config backends[WM__MAX_BACKENDS];
    char *app_name;
    char *app_version;
    char *site_id;
    bool spool_enabled;
    char *spool_path;
    uint64_t spool_max_bytes;
    size_t queue_size;
    wm__when_full when_full;
    size_t batch_size;
    size_t
        batch_max_bytes; /* NDJSON bytes per request (uncompressed); one larger event goes alone */
    double flush_interval_s;
    double exit_flush_timeout_s;
    wm__log_level log_level;
    char *sdk_lang;
    char *sdk_version;
} wm__config;

/* The configuration schema: one row per key (core/src/config_keys.c). Defaults, validation, the
 * WAFERMON_* variables, wm_client_config_get and the table in docs/c-core.md all come from it. */
typedef enum wm__key_type {
    WM__KEY_STRING,    /* char *; min/max bound its length in bytes, choices (if set) its values */
    WM__KEY_BOOL,      /* bool */
    WM__KEY_INT,       /* int, from a JSON integer */
    WM__KEY_SIZE,      /* size_t, from a JSON integer */
    WM__KEY_NUMBER,    /* double */
    WM__KEY_MEGABYTES, /* uint64_t bytes, from a number of MiB */
    WM__KEY_CHOICE     /* an enum (int-sized): the index of the value in choices */
} wm__key_type;

enum {
    WM__KEY_NULLABLE = 1u << 0, /* JSON null sets it back to none */
    WM__KEY_REQUIRED = 1u << 1, /* must be given (direct_backends[] entries) */
    WM__KEY_HTTP_URL = 1u << 2  /* must start with http:// or https:// */
};

typedef struct wm__config_key {
    const char *name; /* "sidecar.url": section, dot, key; or the key alone at the top level */
    const char *env;  /* "WAFERMON_SIDECAR_URL", NULL for none */
    wm__key_type type;
    size_t offset;   /* into wm__config, or wm__backend_config for the backend keys */
    double min, max; /* the range; for strings the length in bytes */
    const char *def; /* the default, written as its variable would be; NULL for none */
    char *(*computed_default)(void); /* when the default depends on the process (malloc'd) */
    const char *doc_default;         /* the default as the docs show a computed one */
    const char *choices;             /* "sidecar|direct" */
    const char *why;                 /* why the maximum or the choices: added to the error */
    unsigned flags;
    const char *help; /* one line for docs/c-core.md */
} wm__config_key;

extern const wm__config_key wm__config_keys[];
extern const size_t wm__config_n_keys;
/* The keys of each direct_backends[] entry; offsets into wm__backend_config. */
extern const wm__config_key wm__backend_keys[];
extern const size_t wm__backend_n_keys;
/* The variable that configures one filesystem backend: WAFERMON_FILESYSTEM_PATH=/dir. */
#define WM__FILESYSTEM_PATH_ENV "WAFERMON_FILESYSTEM_PATH"

/* Builds the configuration: defaults < WAFERMON_CONFIG < WAFERMON_* variables < config_json.
 * On failure the detail (naming the key or variable) is in wm_last_error(). */
wm_status wm__config_load(const char *config_json, wm__config *out);
void wm__config_free(wm__config *cfg);
/* The effective value of key ("queue.size", "direct_backends[0].path") as JSON text: *out is
 * malloc'd, the caller frees it. WM_E_CONFIG for an unknown key. */
wm_status wm__config_value_json(const wm__config *cfg, const char *key, char **out);

#endif
