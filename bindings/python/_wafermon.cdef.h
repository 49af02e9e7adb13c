/* cffi cdef of the public C API (core/include/wafermon.h), in the subset cffi parses:
 * no macros, no attributes. Keep in step with the header: tests/test_binding.py compares
 * the status table and the version against the library. */
unsigned wm_version(void);
const char *wm_version_string(void);

typedef enum wm_status {
    WM_OK = 0,
    WM_E_INVALID_ARGUMENT = 1,
    WM_E_CONFIG = 2,
    WM_E_ENCODING = 3,
    WM_E_METADATA = 4,
    WM_E_TOO_LARGE = 5,
    WM_E_QUEUE_FULL = 6,
    WM_E_CLOSED = 7,
    WM_E_STATE = 8,
    WM_E_TIMEOUT = 9,
    WM_E_IO = 10,
    WM_E_SPOOL_LOCKED = 11,
    WM_E_NOMEM = 12,
    WM_E_FORKED = 13,
    WM_E_INTERNAL = 14
} wm_status;

typedef struct wm_status_desc {
    int code;
    const char *name;
    const char *exception;
    const char *message;
} wm_status_desc;

void wm_status_descs(const wm_status_desc **descs, size_t *count);
const char *wm_status_name(wm_status status);
const char *wm_status_message(wm_status status);
const char *wm_last_error(void);

typedef struct wm_client wm_client;
typedef struct wm_job wm_job;

wm_status wm_client_open(const char *config_json, wm_client **out);
wm_status wm_client_config_get(wm_client *client, const char *key, char *buf, size_t buf_size);
wm_status wm_client_flush(wm_client *client, double timeout_s);
wm_status wm_client_close(wm_client *client, double timeout_s);

typedef enum wm_stat {
    WM_STAT_EMITTED = 0,
    WM_STAT_DELIVERED = 1,
    WM_STAT_SPOOLED = 2,
    WM_STAT_DROPPED = 3,
    WM_STAT_RETRIES = 4,
    WM_STAT_DEAD_LETTERED = 5,
    WM_STAT_REPLAYED = 6,
    WM_STAT_QUEUE_DEPTH = 7,
    WM_STAT_SPOOL_BYTES = 8,
    WM_STAT_SPOOL_PENDING = 9,
    WM_STAT_CORRUPT = 10,
    WM_STAT__COUNT = 11
} wm_stat;

uint64_t wm_client_stat(wm_client *client, wm_stat stat);
const char *wm_stat_name(wm_stat stat);

wm_status wm_job_start(wm_client *client, const char *business_key, const char *site_id,
                       const char *metadata_json, wm_job **out);
wm_status wm_job_start_app(wm_client *client, const char *app_name, const char *app_version,
                           const char *app_id, const char *business_key, const char *site_id,
                           const char *metadata_json, wm_job **out);
wm_status wm_subjob_start(wm_job *parent, const char *sub_key, const char *metadata_json,
                          wm_job **out);
wm_status wm_job_progress(wm_job *job, double fraction, const char *metadata_json);
wm_status wm_job_heartbeat(wm_job *job);
wm_status wm_job_set_trace(wm_job *job, const char *trace_id, const char *span_id);
wm_status wm_job_set_metric(wm_job *job, const char *name, double value);
wm_status wm_job_succeed(wm_job *job, const char *metadata_json);
wm_status wm_job_fail(wm_job *job, const char *error_type, const char *error_message,
                      const char *metadata_json);
wm_status wm_job_cancel(wm_job *job, const char *metadata_json);
wm_status wm_job_id(wm_job *job, char *buf, size_t buf_size);
int wm_job_is_finished(wm_job *job);
void wm_job_destroy(wm_job *job);
