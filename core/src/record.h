/* Internal: one event as the application thread hands it to the delivery thread — fixed fields
 * and borrowed references, no text. Encoding to JSON happens on the delivery thread. */
#ifndef WM_RECORD_H
#define WM_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct wm_job wm_job;

typedef enum wm__kind {
    WM__STARTED = 0,
    WM__PROGRESS = 1,
    WM__HEARTBEAT = 2,
    WM__FINISHED = 3
} wm__kind;
typedef enum wm__outcome {
    WM__RUNNING = 0,
    WM__SUCCEEDED = 1,
    WM__FAILED = 2,
    WM__CANCELLED = 3
} wm__outcome;

typedef struct wm__metrics {
    double duration_s, cpu_user_s, cpu_sys_s, mem_max_mb;
} wm__metrics;

typedef struct wm__record {
    wm_job *job; /* a counted reference: ids, keys, site, app come from the job */
    uint8_t event_id[16];
    uint8_t kind;    /* wm__kind */
    uint8_t outcome; /* wm__outcome */
    bool has_trace;
    uint32_t seq;
    int32_t pid;
    int64_t at_us;
    double progress;  /* NaN: none */
    json_t *metadata; /* owned; NULL means {} */
    char *error_type; /* owned; failed only */
    char *error_message;
    wm__metrics metrics; /* finished only */
    uint8_t trace[24];   /* trace_id (16) + span_id (8) when has_trace */
} wm__record;

/* Frees what the record owns and drops its job reference. */
void wm__record_release(wm__record *r);

#endif
