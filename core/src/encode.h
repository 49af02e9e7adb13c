/* Internal: the v1 wire encoding of one event (conformance/schema/event-v1.json). */
#ifndef WM_ENCODE_H
#define WM_ENCODE_H

#include "buf.h"
#include "record.h"

typedef struct wm_client wm_client;

/* Appends the event as one JSON object followed by '\n'. */
void wm__encode_event(wm__buf *out, const wm_client *c, const wm__record *r);

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" for a UNIX time in microseconds; out holds 28 bytes. */
void wm__format_time(int64_t unix_us, char out[28]);

#endif
