/* Internal: gzip compression of a request body. */
#ifndef WM_GZIP_H
#define WM_GZIP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Replaces out's contents with the gzip stream of data[0..len). false on failure. */
bool wm__gzip(const char *data, size_t len, wm__buf *out);

#endif
