/* Shared bits of the transports. */
#include <stdlib.h>

#include "transport.h"

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
