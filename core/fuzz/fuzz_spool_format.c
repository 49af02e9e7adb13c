/* Fuzzes the spool's record framing on a buffer (spool_format.c): the input is a segment file.
 * Walking it as recovery does, every record found must be whole and pass its CRC, resync must
 * move forward and land on a valid record, and no valid record may lie in the stretch it skips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < WM__SEG_MAGIC_LEN)
        return 0;
    int version = wm__segfmt_version(data);
    if (!version)
        return 0;
    /* An exact-size heap copy, so ASan sees any read past the end. */
    uint8_t *seg = malloc(size);
    if (!seg)
        return 0;
    memcpy(seg, data, size);
    size_t header_len = wm__segfmt_header_len(version);
    size_t off = WM__SEG_MAGIC_LEN;
    while (off < size) {
        wm__segfmt_header h;
        size_t len = wm__segfmt_record_at(version, seg, size, off, &h);
        if (len) {
            if (len != header_len + h.len || off + len > size || h.count == 0 ||
                !wm__segfmt_payload_ok(version, &h, seg + off + header_len))
                abort();
            off += len;
            continue;
        }
        size_t next = wm__segfmt_resync(version, seg, size, off + 1);
        if (next <= off || next > size)
            abort();
        if (next < size && !wm__segfmt_record_at(version, seg, size, next, &h))
            abort();
        /* The first valid record, not just a valid one (checked over short stretches only, to
         * keep each run linear). */
        for (size_t i = off + 1; i < next && i < off + 256; i++)
            if (wm__segfmt_record_at(version, seg, size, i, &h))
                abort();
        off = next;
    }
    /* What the encoder writes must read back. */
    size_t payload_len = size - WM__SEG_MAGIC_LEN;
    if (payload_len > 0 && payload_len <= WM__REC_MAX_PAYLOAD) {
        uint32_t count = (uint32_t)(payload_len < 3 ? payload_len : 3);
        uint8_t *rec = malloc(WM__REC_HEADER_MAX + payload_len);
        if (rec) {
            size_t hl = wm__segfmt_encode_header(rec, data + WM__SEG_MAGIC_LEN,
                                                 (uint32_t)payload_len, count);
            memcpy(rec + hl, data + WM__SEG_MAGIC_LEN, payload_len);
            wm__segfmt_header h;
            if (wm__segfmt_record_at(WM__SEG_VERSION, rec, hl + payload_len, 0, &h) !=
                    hl + payload_len ||
                h.count != count)
                abort();
            free(rec);
        }
    }
    free(seg);
    return 0;
}
