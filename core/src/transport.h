/* Internal: a transport delivers one NDJSON batch to one place. New direct backends implement
 * these three operations and a constructor; the delivery thread does retries, spooling and
 * dead-lettering for all of them alike. */
#ifndef WM_TRANSPORT_H
#define WM_TRANSPORT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef enum wm__send_kind {
    WM__SEND_OK = 0,        /* every event accepted */
    WM__SEND_RETRY = 1,     /* transient (connection, timeout, 5xx, 429): try again later */
    WM__SEND_PERMANENT = 2, /* refused (4xx): retrying cannot help; dead-letter the batch */
    WM__SEND_PARTIAL = 3,   /* some events refused: see rejected[] */
    WM__SEND_TOO_LARGE = 4  /* the request is over the receiver's size limit (413): split it */
} wm__send_kind;

/* Monotonic microseconds after which a transfer in flight is abandoned and no new one starts;
 * 0 means none. Set once by wm_client_close and the exit handler (the exit bound). */
typedef _Atomic int64_t wm__abort_clock;

/* True once the abort time has come. */
bool wm__aborted(const wm__abort_clock *abort_at);

typedef struct wm__rejection {
    size_t index; /* line number in the batch, from 0 */
    char reason[256];
} wm__rejection;

typedef struct wm__send_result {
    wm__send_kind kind;
    char reason[512];        /* for RETRY and PERMANENT */
    double retry_after_s;    /* a server's Retry-After, 0 when none */
    wm__rejection *rejected; /* PARTIAL: malloc'd, freed by wm__send_result_clear */
    size_t n_rejected;
} wm__send_result;

void wm__send_result_clear(wm__send_result *r);

typedef struct wm__transport_ops {
    /* ndjson: count events, one per line, each ending in '\n'. Fills *res. A transfer still in
     * flight when *abort_at comes is abandoned with WM__SEND_RETRY. */
    void (*send)(void *state, const char *ndjson, size_t len, uint32_t count,
                 const wm__abort_clock *abort_at, wm__send_result *res);
    void (*destroy)(void *state);
} wm__transport_ops;

typedef struct wm__transport {
    const wm__transport_ops *ops;
    void *state;
    /* Stable identity of the destination, used as its spool directory name. */
    char id[96];
    /* For messages and dead letters: "sidecar http://...", "filesystem /dir", or a named
     * backend's "name (filesystem /dir)". */
    char description[512];
} wm__transport;

wm_status wm__sidecar_transport_open(const wm__config *cfg, wm__transport *out);
wm_status wm__filesystem_transport_open(const wm__backend_config *bc, wm__transport *out);

/* The byte length of the longest run of whole lines at the start of ndjson that holds at most
 * max_lines lines and max_bytes bytes, but always at least one line; *lines gets their number. */
size_t wm__ndjson_prefix(const char *ndjson, size_t len, size_t max_bytes, uint32_t max_lines,
                         uint32_t *lines);

/* A short stable hash of a string, for identities. */
uint32_t wm__fnv1a(const char *s);

#endif
