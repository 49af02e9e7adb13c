/*
 * wafermon.h — the public API of libwafermon, the C core of wafermon.
 *
 * One job (or sub-job) reports its life — started, progress, heartbeat, finished — and the library
 * delivers those events, without blocking the caller, to the local sidecar or straight to a
 * backend, spooling to disk whatever it cannot hand over.
 *
 * Conventions, for C users and for binding authors:
 * - Every function that can fail returns a wm_status. WM_OK is 0. On failure a human-readable
 * detail is kept per thread and read with wm_last_error(); it names the argument or key at fault.
 * - Strings going in are `const char *`, NUL-terminated UTF-8, borrowed for the duration of the
 * call only: the library copies what it keeps. Strings coming out are owned by the library (static,
 * or per-thread as documented) and must not be freed by the caller.
 * - Handles are opaque. Every _open/_start has its _close/_destroy; those accept NULL.
 * - No varargs, no structs passed by value, no callbacks into the caller: every function is
 * bindable from cffi, JNI, R .Call and Perl XS as it is.
 * - Threads: every function is thread-safe unless it says otherwise. Nothing here blocks on the
 *   network; only wm_client_flush() and wm_client_close() wait, and only up to their timeout.
 * - fork(): a client and its jobs keep working in the child, see "Fork" below.
 */
#ifndef WAFERMON_H
#define WAFERMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WAFERMON_BUILDING) && defined(__GNUC__)
#define WM_API __attribute__((visibility("default")))
#else
#define WM_API
#endif

/* ---- versions ------------------------------------------------------------------------------ */

#define WAFERMON_VERSION_MAJOR 0
#define WAFERMON_VERSION_MINOR 1
#define WAFERMON_VERSION_PATCH 0
/* MAJOR*10000 + MINOR*100 + PATCH, comparable as an integer. */
#define WAFERMON_VERSION_NUM                                                                       \
    (WAFERMON_VERSION_MAJOR * 10000 + WAFERMON_VERSION_MINOR * 100 + WAFERMON_VERSION_PATCH)
#define WAFERMON_VERSION_STRING "0.1.0"

/* The version of the library actually loaded, as WAFERMON_VERSION_NUM. */
WM_API unsigned wm_version(void);
/* The same as a static string, e.g. "0.1.0". */
WM_API const char *wm_version_string(void);

/* ---- statuses and errors ------------------------------------------------------------------- */

/* Stable numeric values: bindings map them to named exceptions. New ones are only ever appended. */
typedef enum wm_status {
    WM_OK = 0,
    WM_E_INVALID_ARGUMENT = 1, /* a NULL handle, a value out of range, an empty required string */
    WM_E_CONFIG = 2,           /* configuration: unknown key, wrong type, bad value */
    WM_E_ENCODING = 3,  /* a string is not valid UTF-8 (a "\\u0000" in metadata is WM_E_METADATA) */
    WM_E_METADATA = 4,  /* metadata is not a JSON object */
    WM_E_TOO_LARGE = 5, /* a value exceeds its documented size limit */
    WM_E_QUEUE_FULL = 6, /* returned by no call: with queue.when_full "drop" an emit into a
                            full queue returns WM_OK and the event is counted in
                            WM_STAT_DROPPED (monitoring never fails the job); kept so the
                            numbering stays stable */
    WM_E_CLOSED = 7,  /* the client is closed, or closing: an event emitted once wm_client_close has
                         begun is refused, not queued */
    WM_E_STATE = 8,   /* the job is already finished */
    WM_E_TIMEOUT = 9, /* flush/close did not complete within the timeout */
    WM_E_IO = 10,     /* a file or directory could not be created, written or read */
    WM_E_SPOOL_LOCKED = 11, /* every spool slot under the spool path is held by other processes */
    WM_E_NOMEM = 12,        /* out of memory */
    WM_E_FORKED = 13,       /* a job handle was used in a child process; it belongs to the parent */
    WM_E_INTERNAL = 14      /* a bug in wafermon: please report it with wm_last_error() */
} wm_status;

/* Describes one status; the table is static and lives as long as the process. */
typedef struct wm_status_desc {
    int code;              /* the wm_status value */
    const char *name;      /* its C name, e.g. "WM_E_CONFIG" */
    const char *exception; /* the exception class name every binding uses, e.g. "ConfigError" */
    const char *message;   /* a one-line description */
} wm_status_desc;

/* The table of all statuses, so bindings generate their exception types from the C side.
 * *descs receives a pointer to a static array of *count entries. Never fails. */
WM_API void wm_status_descs(const wm_status_desc **descs, size_t *count);
/* Static strings; an unknown value gives "WM_E_UNKNOWN" / "unknown status". */
WM_API const char *wm_status_name(wm_status status);
WM_API const char *wm_status_message(wm_status status);

/* The detail of the last failure on the calling thread, "" if none. The string is owned by the
 * library and valid until the next wafermon call on this thread. Successful calls do not clear it.
 */
WM_API const char *wm_last_error(void);

/* ---- client -------------------------------------------------------------------------------- */

typedef struct wm_client wm_client;
typedef struct wm_job wm_job;

/*
 * Opens a client and starts its background delivery thread.
 *
 * config_json: NULL or a JSON object in the universal configuration schema: sections "sidecar",
 * "app", "spool", "queue", "sdk", a "direct_backends" array and top-level keys. Every key, its
 * variable, type, range and default is in the table of docs/c-core.md (generated from the core's
 * own table, core/src/config_keys.c); wm_client_config_get() reads a key's effective value.
 * Layers, later wins: built-in defaults < WAFERMON_CONFIG (a file path, or the JSON itself when
 * it starts with '{') < WAFERMON_* variables < config_json. With nothing set it sends to the
 * sidecar at http://127.0.0.1:17000 and spools under a per-user directory.
 *
 * On success *out owns a new client; release it with wm_client_close(). On failure *out is NULL and
 * wm_last_error() names the key, variable or path at fault.
 */
WM_API wm_status wm_client_open(const char *config_json, wm_client **out);

/*
 * The effective value of one configuration key of an open client, after every layer (defaults,
 * WAFERMON_CONFIG, WAFERMON_* variables, config_json), as JSON text: e.g. "2", "\"drop\"", "true",
 * or "null" for a key with no value (sidecar.token unset). Bindings read values through it rather
 * than re-doing the layering.
 * key: a key of the table in docs/c-core.md, e.g. "exit_flush_timeout", "queue.when_full", or
 * "direct_backends[0].path".
 * buf receives the NUL-terminated text. WM_E_CONFIG for an unknown key; WM_E_TOO_LARGE when
 * buf_size is too small (wm_last_error() says how many bytes it needs; 256 fit any number).
 * Thread-safe; the configuration of an open client never changes.
 */
WM_API wm_status wm_client_config_get(wm_client *client, const char *key, char *buf,
                                      size_t buf_size);

/*
 * Waits until every event emitted before the call is delivered or durably spooled (fsync'd), for
 * at most timeout_s seconds (0 = do not wait, only nudge the thread). WM_E_TIMEOUT if not done.
 */
WM_API wm_status wm_client_flush(wm_client *client, double timeout_s);

/*
 * Flushes for at most timeout_s seconds, stops the background thread, spools what is still queued,
 * and frees the client. Returns within timeout_s + 0.5 s whatever the receiver does: a request
 * unanswered at the deadline is abandoned and its events spooled too. A negative timeout_s means
 * the configured exit_flush_timeout. Jobs still running are left as they are (their handles stay
 * valid for wm_job_destroy only). NULL is a no-op. Returns WM_E_TIMEOUT when the flush did not
 * complete (the rest went to the spool, to be replayed at the next start).
 * Not thread-safe against other calls on the same client: call it last.
 */
WM_API wm_status wm_client_close(wm_client *client, double timeout_s);

/* Counters, readable at any time. Values only grow except QUEUE_DEPTH, SPOOL_BYTES, SPOOL_PENDING.
 */
typedef enum wm_stat {
    WM_STAT_EMITTED = 0,   /* events accepted by an emit call */
    WM_STAT_DELIVERED = 1, /* events acknowledged by the sidecar or written by a backend */
    WM_STAT_SPOOLED = 2,   /* events written to the spool (durably) */
    WM_STAT_DROPPED = 3,   /* events lost by policy (queue full with "drop", spool cap) */
    WM_STAT_RETRIES = 4,   /* delivery attempts repeated after a transient failure */
    WM_STAT_DEAD_LETTERED =
        5,                   /* events refused permanently (4xx), written to the dead-letter file */
    WM_STAT_REPLAYED = 6,    /* events delivered from the spool */
    WM_STAT_QUEUE_DEPTH = 7, /* events waiting in memory now */
    WM_STAT_SPOOL_BYTES = 8, /* bytes in spool segments now */
    WM_STAT_SPOOL_PENDING = 9, /* events in the spool not yet delivered, as last counted */
    WM_STAT_CORRUPT = 10,      /* corrupt spool records skipped, torn tails truncated */
    WM_STAT__COUNT = 11
} wm_stat;

/* The counter's value; 0 for a NULL client or an unknown stat. */
WM_API uint64_t wm_client_stat(wm_client *client, wm_stat stat);
/* One backend's share of a counter: the target named name, i.e. "sidecar" in mode sidecar, or a
 * direct backend's "name" (direct_backends[].name); 0 for a NULL client or an unknown name (an
 * unnamed backend cannot be asked). EMITTED and QUEUE_DEPTH are the client's: every backend gets
 * every event. The client's DELIVERED, SPOOLED, ... are the sums over its backends. */
WM_API uint64_t wm_client_backend_stat(wm_client *client, const char *name, wm_stat stat);
/* A static lower-case name for the stat, e.g. "delivered"; NULL when out of range. */
WM_API const char *wm_stat_name(wm_stat stat);

/* ---- jobs ---------------------------------------------------------------------------------- */

/*
 * Starts a job and emits its "started" event.
 * business_key: the user's key (batch id), NULL for none; at most 256 bytes.
 * site_id: NULL to use the configured app.site_id; at most 128 bytes, non-empty.
 * metadata_json: NULL, or a JSON object of at most 65536 bytes.
 * On success *out owns a new job handle; release it with wm_job_destroy() after finishing it.
 */
WM_API wm_status wm_job_start(wm_client *client, const char *business_key, const char *site_id,
                              const char *metadata_json, wm_job **out);

/*
 * A schedule monitor declared from code: metadata_json for wm_job_start with the declaration (a
 * JSON object literal) under the reserved key "wafermon.monitor", e.g.
 * WM_MONITOR_METADATA("{\"schedule\": \"0 2 * * *\", \"tz\": \"Europe/Berlin\"}").
 * The gateway creates or updates the monitor (docs/alerting.md). With other metadata, put the key
 * "wafermon.monitor" into that JSON object yourself.
 */
#define WM_MONITOR_METADATA(monitor_json) "{\"wafermon.monitor\": " monitor_json "}"

/*
 * Starts a job like wm_job_start, with its own app: the events of the job and of all its sub-jobs
 * carry "app": {"name", "version"[, "id"]} from these arguments instead of the client's configured
 * app, so one client serves jobs of many apps.
 * app_name: NULL for the configured app.name; else non-empty, at most 128 bytes of UTF-8.
 * app_version: NULL for the configured app.version; at most 128 bytes (may be empty).
 * app_id: NULL for none (no "id" in the events); else non-empty, at most 128 bytes.
 * Errors as wm_job_start: WM_E_INVALID_ARGUMENT (empty name or id), WM_E_TOO_LARGE, WM_E_ENCODING.
 * The strings are copied; the caller keeps ownership.
 */
WM_API wm_status wm_job_start_app(wm_client *client, const char *app_name, const char *app_version,
                                  const char *app_id, const char *business_key, const char *site_id,
                                  const char *metadata_json, wm_job **out);

/*
 * Starts a sub-job of parent (a job or a sub-job; nesting has no depth limit). It inherits the
 * parent's client, site and business key. sub_key: the user's key (wafer id), NULL for none.
 */
WM_API wm_status wm_subjob_start(wm_job *parent, const char *sub_key, const char *metadata_json,
                                 wm_job **out);

/* Emits "progress". fraction: in [0, 1], or NaN for none. metadata_json: NULL or a JSON object. */
WM_API wm_status wm_job_progress(wm_job *job, double fraction, const char *metadata_json);

/* Emits "heartbeat": the job is alive. */
WM_API wm_status wm_job_heartbeat(wm_job *job);

/* Sets W3C trace context carried by this job's later events: 32 and 16 lower-case hex digits. */
WM_API wm_status wm_job_set_trace(wm_job *job, const char *trace_id, const char *span_id);

/*
 * Overrides a measured metric on the finished event, e.g. a wrapper reporting its child process.
 * name: "duration_s", "cpu_user_s", "cpu_sys_s" or "mem_max_mb"; value: finite and >= 0.
 */
WM_API wm_status wm_job_set_metric(wm_job *job, const char *name, double value);

/*
 * Finish the job: emits "finished" with the measured metrics (docs/c-core.md says what each is).
 * After one of these succeeds, every later emit on the handle returns WM_E_STATE.
 * wm_job_fail: error_type non-empty (e.g. "ValueError"); error_message may be NULL. An error type
 * above 256 bytes or a message above 8192 bytes is cut at a UTF-8 boundary and ends in "...":
 * a failure is always reported, never refused for its length.
 */
WM_API wm_status wm_job_succeed(wm_job *job, const char *metadata_json);
WM_API wm_status wm_job_fail(wm_job *job, const char *error_type, const char *error_message,
                             const char *metadata_json);
WM_API wm_status wm_job_cancel(wm_job *job, const char *metadata_json);

/* Copies the job's entity_id (36 characters + NUL) into buf, which must hold 37 bytes. */
WM_API wm_status wm_job_id(wm_job *job, char *buf, size_t buf_size);

/* 1 when the job has been finished (any outcome), 0 when running or job is NULL. */
WM_API int wm_job_is_finished(wm_job *job);

/*
 * Frees the handle. A job that was never finished is finished first as "cancelled" with metadata
 * {"wafermon.reason": "handle destroyed while running"}, so no job is left running forever.
 * NULL is a no-op. Not thread-safe against other calls on the same job: call it last.
 */
WM_API void wm_job_destroy(wm_job *job);

/*
 * Fork: after fork() the child's first call on a client re-arms it — a new delivery thread, an
 * own spool slot, an empty queue (the parent delivers what it had queued). A job handle started in
 * the parent may start sub-jobs in the child, but its own events can only come from the parent:
 * progress/heartbeat/finish on it in the child return WM_E_FORKED.
 */

#ifdef __cplusplus
}
#endif
#endif /* WAFERMON_H */
