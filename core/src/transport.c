/* Shared bits of the transports. */
#include <stdlib.h>
#include <string.h>

#include "resources.h"
#include "transport.h"

bool wm__aborted(const wm__abort_clock *abort_at) {
    int64_t at = abort_at ? atomic_load(abort_at) : 0;
    return at != 0 && wm__now_monotonic_us() >= at;
}

size_t wm__ndjson_prefix(const char *ndjson, size_t len, size_t max_bytes, uint32_t max_lines,
                         uint32_t *lines) {
    size_t taken = 0;
    uint32_t n = 0;
    while (taken < len && n < max_lines) {
        const char *nl = memchr(ndjson + taken, '\n', len - taken);
        size_t next = nl ? (size_t)(nl - ndjson) + 1 : len;
        if (n > 0 && next > max_bytes)
            break;
        taken = next;
        n++;
    }
    *lines = n;
    return taken;
}

void wm__send_result_clear(wm__send_result *r) {
    free(r->rejected);
    r->rejected = NULL;
    r->n_rejected = 0;
    r->kind = WM__SEND_OK;
    r->reason[0] = '\0';
    r->retry_after_s = 0;
}

uint32_t wm__fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 16777619u;
    }
    return h;
}
