/* Internal: the durable spool of one delivery target — append-only segment files of framed,
 * checksummed batches, replayed in order, bounded with drop-oldest.
 *
 * On disk: DIR/seg-<20-digit number>.wms, each starting with the 8-byte magic "WMSPOOL1", then
 * records of [u32 payload length][u32 event count][u32 CRC-32 of payload] (little endian) and the
 * payload (NDJSON, one event per line). DIR/cursor holds "<segment number> <offset>" of the next
 * record to replay. A segment is deleted once replayed past its end.
 *
 * Thread-safe: one mutex per spool (the delivery thread and an emitting thread on overflow). */
#ifndef WM_SPOOL_H
#define WM_SPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "wafermon.h"

typedef struct wm__spool wm__spool;

typedef struct wm__spool_counts {
    uint64_t corrupt;       /* damaged stretches skipped, and torn tails truncated */
    uint64_t skipped_bytes; /* bytes of the damaged stretches skipped (torn tails not included) */
    uint64_t dropped;       /* events dropped by the size cap (oldest segments first) */
} wm__spool_counts;

/* Opens (creating) DIR, validates every segment, truncating a torn or corrupt tail with a warning.
 * max_bytes caps the total size of the segments. */
wm_status wm__spool_open(const char *dir, uint64_t max_bytes, wm__spool **out);

/* Moves the segments of another spool directory (an orphaned slot) into this one, validating them.
 */
void wm__spool_adopt(wm__spool *sp, const char *other_dir);

/* Appends one batch and fsyncs it. When the cap would be passed, the oldest segments are deleted
 * first (their events counted as dropped). WM_E_TOO_LARGE when the batch alone exceeds the cap,
 * WM_E_IO when the write fails (nothing partial is left behind). */
wm_status wm__spool_append(wm__spool *sp, const char *payload, size_t len, uint32_t count);

/* Copies the oldest unreplayed batch into payload; false when there is none. */
bool wm__spool_peek(wm__spool *sp, wm__buf *payload, uint32_t *count);
/* Marks the batch returned by the last peek as replayed (persisting the cursor). */
void wm__spool_consume(wm__spool *sp);

uint64_t wm__spool_bytes(wm__spool *sp);
uint64_t wm__spool_pending(wm__spool *sp);
/* Counts since open; reading them resets them to zero. */
void wm__spool_take_counts(wm__spool *sp, wm__spool_counts *out);
void wm__spool_close(wm__spool *sp);

#endif
