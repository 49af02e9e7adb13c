/* Internal: one delivery target — a transport, its spool, its circuit state and its dead letters.
 * The delivery thread hands each batch to every target; a target that fails keeps the batch in its
 * own spool, so one dead destination holds up no other. */
#ifndef WM_TARGET_H
#define WM_TARGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "spool.h"
#include "transport.h"

typedef struct wm__target {
    wm__transport transport;
    wm__spool *spool;       /* NULL when spooling is disabled */
    char *dead_letter_path; /* BASE/dead-letter.jsonl */
    bool down; /* the last attempt failed: new batches go to the spool until the probe */
    int64_t next_probe_us; /* monotonic time of the next attempt while down */
    double probe_backoff_s;
    char last_error[512];
    const wm__abort_clock *abort_at; /* the client's: no transfer continues past it */
    size_t max_bytes;                /* bytes per request (batch_max_bytes) */
    const char *name; /* "sidecar", or the direct backend's configured name; NULL for none */
    atomic_uint_fast64_t stats[WM_STAT__COUNT]; /* this target's share of the client's counters */
} wm__target;

/* Outcome counts of one delivery, for the client's stats. */
typedef struct wm__outcome_counts {
    uint64_t delivered, spooled, dropped, dead_lettered, retries, replayed;
} wm__outcome_counts;

/* Adds o to the target's own counters, and to *sum when it is not NULL. */
void wm__target_count(wm__target *t, const wm__outcome_counts *o, wm__outcome_counts *sum);

typedef struct wm__delivery_policy {
    int retries;   /* attempts after the first, while up */
    bool may_wait; /* false when stopping: no retries, straight to the spool */
} wm__delivery_policy;

/* Sends a live batch with retries; on final failure spools it (or drops it without a spool). A
 * batch the receiver refuses as too large (413) is split in halves, each delivered the same way;
 * only a single event too large for any request is dead-lettered. After the abort time nothing is
 * sent: the batch goes to the spool. */
void wm__target_deliver(wm__target *t, const char *ndjson, size_t len, uint32_t count,
                        const wm__delivery_policy *policy, wm__outcome_counts *out);
/* Writes a batch straight to the spool (queue overflow, shutdown); drops it without a spool. */
void wm__target_spool(wm__target *t, const char *ndjson, size_t len, uint32_t count,
                      wm__outcome_counts *out);
/* Sends the oldest spooled batch when the target is up or due a probe. true when it was settled
 * (delivered or dead-lettered): the caller adds the counts, then calls wm__spool_consume. A batch
 * over max_bytes or refused as too large is sent in pieces; a piece that cannot be sent now is
 * appended to the spool again, so the whole record still counts as settled. */
bool wm__target_replay_one(wm__target *t, wm__buf *scratch, wm__outcome_counts *out);
/* True when the spool holds events and the target is up or due a probe. */
bool wm__target_has_replay_work(wm__target *t);

void wm__target_destroy(wm__target *t);

/* Appends the events of a batch (all, or the listed lines) to the dead-letter file with a reason.
 * The file is bounded: past 16 MiB it is renamed to .1 (replacing the previous one). */
void wm__dead_letter(const char *path, const char *target, const char *ndjson, size_t len,
                     const wm__rejection *only, size_t n_only, const char *reason);

#endif
