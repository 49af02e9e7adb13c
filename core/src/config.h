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

/* Builds the configuration: defaults < WAFERMON_CONFIG < WAFERMON_* variables < config_json.
 * On failure the detail (naming the key or variable) is in wm_last_error(). */
wm_status wm__config_load(const char *config_json, wm__config *out);
void wm__config_free(wm__config *cfg);

#endif
