/* Internal: the on-disk framing of spool segments, on memory buffers (no I/O), so recovery can be
 * tested and fuzzed on any bytes.
 *
 * A segment starts with an 8-byte magic naming its version, then records:
 *   version 2 ("WMSPOOL2", what is written):
 *     [u8 0xFF "WMR"][u32 payload length][u32 event count][u32 CRC-32 of length, count, payload]
 *   version 1 ("WMSPOOL1", written by earlier builds; still read):
 *     [u32 payload length][u32 event count][u32 CRC-32 of payload]
 * each followed by the payload (NDJSON, one event per line); integers little endian. The record
 * magic starts with 0xFF, a byte that never occurs in UTF-8, so within the payloads (valid
 * UTF-8 JSON) it is never found by accident; after damage, scanning for it finds the next record,
 * which the CRC then confirms. */
#ifndef WM_SPOOL_FORMAT_H
#define WM_SPOOL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WM__SEG_MAGIC_LEN 8
#define WM__SEG_VERSION 2 /* what new segments are written as */
#define WM__REC_HEADER_MAX 16
#define WM__REC_MAX_PAYLOAD (64u * 1024u * 1024u)

/* The version a segment's first 8 bytes name (1 or 2), or 0 when they are no segment magic. */
int wm__segfmt_version(const uint8_t magic[WM__SEG_MAGIC_LEN]);
/* The magic of a segment of the given version. */
const char *wm__segfmt_magic(int version);
/* Bytes of a record header in that version (12 or 16). */
size_t wm__segfmt_header_len(int version);

/* Writes a version-2 record header for payload[0..len) holding count events into out; returns its
 * length. */
size_t wm__segfmt_encode_header(uint8_t out[WM__REC_HEADER_MAX], const void *payload, uint32_t len,
                                uint32_t count);

typedef struct wm__segfmt_header {
    uint32_t len, count, crc;
} wm__segfmt_header;

/* Decodes the header at h (header_len bytes); false when it cannot start a record (wrong magic,
 * an empty or oversized payload, no events, more events than payload bytes). */
bool wm__segfmt_decode(int version, const uint8_t *h, wm__segfmt_header *out);
/* True when payload[0..hdr->len) matches the header's CRC. */
bool wm__segfmt_payload_ok(int version, const wm__segfmt_header *hdr, const uint8_t *payload);

/* The total length (header + payload) of the whole, valid record at data[off..size), or 0. */
size_t wm__segfmt_record_at(int version, const uint8_t *data, size_t size, size_t off,
                            wm__segfmt_header *out);
/* The offset of the first valid record at or after from, or size when there is none. */
size_t wm__segfmt_resync(int version, const uint8_t *data, size_t size, size_t from);

#endif
