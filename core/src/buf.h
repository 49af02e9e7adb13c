/* Internal: a growable byte buffer and the JSON text writers built on it. */
#ifndef WM_BUF_H
#define WM_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wm__buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed; later appends are ignored */
} wm__buf;

void wm__buf_init(wm__buf *b);
void wm__buf_free(wm__buf *b);
void wm__buf_reset(wm__buf *b);
bool wm__buf_reserve(wm__buf *b, size_t extra);
void wm__buf_append(wm__buf *b, const void *data, size_t len);
void wm__buf_append_str(wm__buf *b, const char *s);
void wm__buf_append_char(wm__buf *b, char c);
/* A JSON string literal (quoted, escaped) of valid UTF-8 input. */
void wm__buf_append_json_string(wm__buf *b, const char *s, size_t len);
void wm__buf_append_u64(wm__buf *b, uint64_t v);
/* A JSON number; non-finite values are written as 0 (they are rejected before reaching here). */
void wm__buf_append_double(wm__buf *b, double v);

#endif
