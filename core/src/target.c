/* Delivery to one target: retries with exponential backoff and jitter, spooling, a circuit that
 * stops hammering a dead receiver, replay when it comes back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "resources.h"
#include "target.h"

#define RETRY_BASE_S 0.1
#define RETRY_MAX_S 2.0
#define PROBE_FIRST_S 0.5
#define PROBE_MAX_S 30.0

static double jitter(double s) {
    /* ±25%, so many clients that failed together do not retry together. */
    return s * (0.75 + 0.5 * ((double)rand() / (double)RAND_MAX));
}

/* Sleeps s seconds, but not past the abort time. */
static void sleep_s(const wm__target *t, double s) {
    int64_t at = t->abort_at ? atomic_load(t->abort_at) : 0;
    if (at) {
        double left = (double)(at - wm__now_monotonic_us()) / 1e6;
        s = fmax(0, fmin(s, left));
    }
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

static void mark_up(wm__target *t) {
    if (t->down)
        wm__log(WM__LOG_INFO, "%s is reachable again", t->transport.description);
    t->down = false;
    t->probe_backoff_s = 0;
}

static void mark_down(wm__target *t, const char *reason, double retry_after_s) {
    if (!t->down)
        wm__log(WM__LOG_WARN, "%s unreachable (%s); spooling until it is back",
                t->transport.description, reason);
    t->down = true;
    t->probe_backoff_s =
        t->probe_backoff_s == 0 ? PROBE_FIRST_S : fmin(t->probe_backoff_s * 2, PROBE_MAX_S);
    double wait = fmax(jitter(t->probe_backoff_s), fmin(retry_after_s, PROBE_MAX_S));
    t->next_probe_us = wm__now_monotonic_us() + (int64_t)(wait * 1e6);
    snprintf(t->last_error, sizeof t->last_error, "%s", reason);
}

static bool probe_due(const wm__target *t) {
    return !t->down || wm__now_monotonic_us() >= t->next_probe_us;
}

void wm__target_spool(wm__target *t, const char *ndjson, size_t len, uint32_t count,
                      wm__outcome_counts *out) {
    if (!t->spool) {
        out->dropped += count;
        wm__log(WM__LOG_ERROR, "%s: %u events dropped (spooling is disabled)",
                t->transport.description, count);
        return;
    }
    if (wm__spool_append(t->spool, ndjson, len, count) == WM_OK) {
        out->spooled += count;
    } else {
        out->dropped += count;
        wm__log(WM__LOG_ERROR, "%s: %u events dropped: %s", t->transport.description, count,
                wm_last_error());
    }
}

/* Applies a final (non-retry) result; returns the events counted as delivered. */
static uint64_t settle(wm__target *t, const wm__send_result *r, const char *ndjson, size_t len,
                       uint32_t count, wm__outcome_counts *out) {
    if (r->kind == WM__SEND_OK) {
        out->delivered += count;
        return count;
    }
    if (r->kind == WM__SEND_PARTIAL) {
        wm__dead_letter(t->dead_letter_path, t->transport.description, ndjson, len, r->rejected,
                        r->n_rejected, "rejected");
        uint64_t refused = r->n_rejected < count ? r->n_rejected : count;
        out->dead_lettered += refused;
        out->delivered += count - refused;
        return count - refused;
    }
    wm__dead_letter(t->dead_letter_path, t->transport.description, ndjson, len, NULL, 0, r->reason);
    out->dead_lettered += count;
    return 0;
}

static void dead_letter_too_large(wm__target *t, const wm__send_result *r, const char *ndjson,
                                  size_t len, wm__outcome_counts *out) {
    char reason[600];
    snprintf(reason, sizeof reason, "the event alone is over the receiver's size limit (%s)",
             r->reason);
    wm__dead_letter(t->dead_letter_path, t->transport.description, ndjson, len, NULL, 0, reason);
    out->dead_lettered += 1;
}

static void deliver_piece(wm__target *t, const char *ndjson, size_t len, uint32_t count,
                          const wm__delivery_policy *policy, wm__outcome_counts *out);

/* A 413: never permanent for a batch. Halves are delivered on their own (and halved again). */
static void split_in_halves(wm__target *t, const char *ndjson, size_t len, uint32_t count,
                            const wm__delivery_policy *policy, wm__outcome_counts *out) {
    uint32_t first;
    size_t cut = wm__ndjson_prefix(ndjson, len, SIZE_MAX, count / 2, &first);
    deliver_piece(t, ndjson, cut, first, policy, out);
    deliver_piece(t, ndjson + cut, len - cut, count - first, policy, out);
}

static void deliver_piece(wm__target *t, const char *ndjson, size_t len, uint32_t count,
                          const wm__delivery_policy *policy, wm__outcome_counts *out) {
    if (!probe_due(t) || !policy->may_wait || wm__aborted(t->abort_at)) {
        wm__target_spool(t, ndjson, len, count, out);
        return;
    }
    wm__send_result r = {0};
    int attempts = t->down ? 1 : 1 + policy->retries; /* a probe gets one try */
    for (int attempt = 0; attempt < attempts; attempt++) {
        wm__send_result_clear(&r);
        t->transport.ops->send(t->transport.state, ndjson, len, count, t->abort_at, &r);
        if (r.kind == WM__SEND_TOO_LARGE) {
            mark_up(t);
            if (count <= 1)
                dead_letter_too_large(t, &r, ndjson, len, out);
            else
                split_in_halves(t, ndjson, len, count, policy, out);
            wm__send_result_clear(&r);
            return;
        }
        if (r.kind != WM__SEND_RETRY) {
            mark_up(t);
            settle(t, &r, ndjson, len, count, out);
            wm__send_result_clear(&r);
            return;
        }
        if (wm__aborted(t->abort_at))
            break; /* closing: what is not confirmed goes to the spool now */
        if (attempt + 1 < attempts) {
            out->retries++;
            double wait = fmin(RETRY_BASE_S * pow(2, attempt), RETRY_MAX_S);
            sleep_s(t, fmax(jitter(wait), fmin(r.retry_after_s, RETRY_MAX_S)));
            if (wm__aborted(t->abort_at))
                break;
        }
    }
    if (!wm__aborted(t->abort_at))
        mark_down(t, r.reason, r.retry_after_s);
    wm__send_result_clear(&r);
    wm__target_spool(t, ndjson, len, count, out);
}

void wm__target_deliver(wm__target *t, const char *ndjson, size_t len, uint32_t count,
                        const wm__delivery_policy *policy, wm__outcome_counts *out) {
    deliver_piece(t, ndjson, len, count, policy, out);
}

bool wm__target_has_replay_work(wm__target *t) {
    return t->spool && probe_due(t) && wm__spool_pending(t->spool) > 0;
}

bool wm__target_replay_one(wm__target *t, wm__buf *scratch, wm__outcome_counts *out) {
    if (!t->spool || !probe_due(t) || wm__aborted(t->abort_at))
        return false;
    uint32_t count;
    if (!wm__spool_peek(t->spool, scratch, &count))
        return false;
    wm__send_result r = {0};
    if (scratch->len <= t->max_bytes || count <= 1) {
        t->transport.ops->send(t->transport.state, scratch->data, scratch->len, count, t->abort_at,
                               &r);
        if (r.kind == WM__SEND_RETRY) {
            if (!wm__aborted(t->abort_at))
                mark_down(t, r.reason, r.retry_after_s);
            wm__send_result_clear(&r);
            return false;
        }
        mark_up(t);
        if (r.kind == WM__SEND_TOO_LARGE && count <= 1) {
            dead_letter_too_large(t, &r, scratch->data, scratch->len, out);
            wm__send_result_clear(&r);
            return true;
        }
        if (r.kind != WM__SEND_TOO_LARGE) {
            out->replayed += settle(t, &r, scratch->data, scratch->len, count, out);
            wm__send_result_clear(&r);
            return true; /* the caller counts, then consumes: stats never lag the spool */
        }
        wm__send_result_clear(&r);
    }
    /* Too large for one request (spooled whole on overflow or at close, or over a receiver's
     * lower limit): pieces within max_bytes, halved on 413; a piece that cannot be sent now goes
     * back on the spool, so the record is settled either way. */
    wm__delivery_policy once = {0, true};
    uint64_t delivered_before = out->delivered;
    if (scratch->len <= t->max_bytes) {
        split_in_halves(t, scratch->data, scratch->len, count, &once, out);
    } else {
        const char *p = scratch->data;
        size_t left = scratch->len;
        while (left > 0) {
            uint32_t lines;
            size_t piece = wm__ndjson_prefix(p, left, t->max_bytes, UINT32_MAX, &lines);
            deliver_piece(t, p, piece, lines, &once, out);
            p += piece;
            left -= piece;
        }
    }
    out->replayed += out->delivered - delivered_before;
    return true;
}

void wm__target_count(wm__target *t, const wm__outcome_counts *o, wm__outcome_counts *sum) {
    const uint64_t values[] = {o->delivered, o->spooled,  o->dropped,
                               o->retries,   o->replayed, o->dead_lettered};
    const wm_stat stats[] = {WM_STAT_DELIVERED, WM_STAT_SPOOLED,  WM_STAT_DROPPED,
                             WM_STAT_RETRIES,   WM_STAT_REPLAYED, WM_STAT_DEAD_LETTERED};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        atomic_fetch_add_explicit(&t->stats[stats[i]], values[i], memory_order_relaxed);
    if (sum) {
        sum->delivered += o->delivered;
        sum->spooled += o->spooled;
        sum->dropped += o->dropped;
        sum->dead_lettered += o->dead_lettered;
        sum->retries += o->retries;
        sum->replayed += o->replayed;
    }
}

void wm__target_destroy(wm__target *t) {
    if (!t)
        return;
    if (t->transport.ops)
        t->transport.ops->destroy(t->transport.state);
    wm__spool_close(t->spool);
    free(t->dead_letter_path);
    free(t);
}
