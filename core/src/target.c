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

static void sleep_s(double s) {
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

void wm__target_deliver(wm__target *t, const char *ndjson, size_t len, uint32_t count,
                        const wm__delivery_policy *policy, wm__outcome_counts *out) {
    if (!probe_due(t) || !policy->may_wait) {
        wm__target_spool(t, ndjson, len, count, out);
        return;
    }
    wm__send_result r = {0};
    int attempts = t->down ? 1 : 1 + policy->retries; /* a probe gets one try */
    for (int attempt = 0; attempt < attempts; attempt++) {
        wm__send_result_clear(&r);
        t->transport.ops->send(t->transport.state, ndjson, len, count, &r);
        if (r.kind != WM__SEND_RETRY) {
            mark_up(t);
            settle(t, &r, ndjson, len, count, out);
            wm__send_result_clear(&r);
            return;
        }
        if (attempt + 1 < attempts) {
            out->retries++;
            double wait = fmin(RETRY_BASE_S * pow(2, attempt), RETRY_MAX_S);
            sleep_s(fmax(jitter(wait), fmin(r.retry_after_s, RETRY_MAX_S)));
        }
    }
    mark_down(t, r.reason, r.retry_after_s);
    wm__send_result_clear(&r);
    wm__target_spool(t, ndjson, len, count, out);
}

bool wm__target_has_replay_work(wm__target *t) {
    return t->spool && probe_due(t) && wm__spool_pending(t->spool) > 0;
}

bool wm__target_replay_one(wm__target *t, wm__buf *scratch, wm__outcome_counts *out) {
    if (!t->spool || !probe_due(t))
        return false;
    uint32_t count;
    if (!wm__spool_peek(t->spool, scratch, &count))
        return false;
    wm__send_result r = {0};
    t->transport.ops->send(t->transport.state, scratch->data, scratch->len, count, &r);
    if (r.kind == WM__SEND_RETRY) {
        mark_down(t, r.reason, r.retry_after_s);
        wm__send_result_clear(&r);
        return false;
    }
    mark_up(t);
    out->replayed += settle(t, &r, scratch->data, scratch->len, count, out);
    wm__send_result_clear(&r);
    return true; /* the caller counts, then consumes: stats never lag the spool */
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
