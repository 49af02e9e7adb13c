/* The on-disk framing of spool segments (see spool_format.h). */
#include <string.h>
#include <zlib.h>

#include "spool_format.h"

static const uint8_t kRecordMagic[4] = {0xFF, 'W', 'M', 'R'};

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int wm__segfmt_version(const uint8_t magic[WM__SEG_MAGIC_LEN]) {
    if (!memcmp(magic, "WMSPOOL2", WM__SEG_MAGIC_LEN))
        return 2;
    if (!memcmp(magic, "WMSPOOL1", WM__SEG_MAGIC_LEN))
        return 1;
    return 0;
}

const char *wm__segfmt_magic(int version) {
    return version == 1 ? "WMSPOOL1" : "WMSPOOL2";
}

size_t wm__segfmt_header_len(int version) {
    return version == 1 ? 12 : 16;
}

/* Version 2's CRC covers the length and count too, so a flipped count is caught. */
static uint32_t crc_v2(uint32_t len, uint32_t count, const void *payload) {
    uint8_t fields[8];
    put_u32(fields, len);
    put_u32(fields + 4, count);
    uLong crc = crc32(0L, fields, sizeof fields);
    return (uint32_t)crc32(crc, (const Bytef *)payload, (uInt)len);
}

size_t wm__segfmt_encode_header(uint8_t out[WM__REC_HEADER_MAX], const void *payload, uint32_t len,
                                uint32_t count) {
    memcpy(out, kRecordMagic, sizeof kRecordMagic);
    put_u32(out + 4, len);
    put_u32(out + 8, count);
    put_u32(out + 12, crc_v2(len, count, payload));
    return 16;
}

bool wm__segfmt_decode(int version, const uint8_t *h, wm__segfmt_header *out) {
    if (version != 1) {
        if (memcmp(h, kRecordMagic, sizeof kRecordMagic) != 0)
            return false;
        h += sizeof kRecordMagic;
    }
    out->len = get_u32(h);
    out->count = get_u32(h + 4);
    out->crc = get_u32(h + 8);
    return out->len > 0 && out->len <= WM__REC_MAX_PAYLOAD && out->count > 0 &&
           out->count <= out->len;
}

bool wm__segfmt_payload_ok(int version, const wm__segfmt_header *hdr, const uint8_t *payload) {
    uint32_t crc = version == 1 ? (uint32_t)crc32(0L, payload, hdr->len)
                                : crc_v2(hdr->len, hdr->count, payload);
    return crc == hdr->crc;
}

size_t wm__segfmt_record_at(int version, const uint8_t *data, size_t size, size_t off,
                            wm__segfmt_header *out) {
    size_t header_len = wm__segfmt_header_len(version);
    if (off > size || size - off < header_len || !wm__segfmt_decode(version, data + off, out))
        return 0;
    if (size - off - header_len < out->len ||
        !wm__segfmt_payload_ok(version, out, data + off + header_len))
        return 0;
    return header_len + out->len;
}

size_t wm__segfmt_resync(int version, const uint8_t *data, size_t size, size_t from) {
    wm__segfmt_header hdr;
    for (size_t off = from; off < size; off++) {
        if (version != 1) { /* jump to the next 0xFF: only a record magic can start there */
            const uint8_t *p = memchr(data + off, kRecordMagic[0], size - off);
            if (!p)
                break;
            off = (size_t)(p - data);
        }
        if (wm__segfmt_record_at(version, data, size, off, &hdr))
            return off;
    }
    return size;
}
