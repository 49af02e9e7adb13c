/* gzip via zlib (windowBits 15 + 16 selects the gzip wrapper the HTTP Content-Encoding expects). */
#include <zlib.h>

#include "gzip.h"

bool wm__gzip(const char *data, size_t len, wm__buf *out) {
    z_stream zs = {0};
    if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    uLong bound = deflateBound(&zs, (uLong)len);
    wm__buf_reset(out);
    if (!wm__buf_reserve(out, bound)) {
        deflateEnd(&zs);
        return false;
    }
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out->data;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    out->len = zs.total_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END;
}
