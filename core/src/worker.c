/* The delivery thread: takes batches off the queue, encodes them, hands them to every target, and
 * replays the spools while the queue is quiet. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "encode.h"
#include "log.h"
#include "resources.h"

static void add_counts(wm_client *c, const wm__outcome_counts *o) {
    wm__stat_add(c, WM_STAT_DELIVERED, o->delivered);
    wm__stat_add(c, WM_STAT_SPOOLED, o->spooled);
    wm__stat_add(c, WM_STAT_DROPPED, o->dropped);
    wm__stat_add(c, WM_STAT_DEAD_LETTERED, o->dead_lettered);
    wm__stat_add(c, WM_STAT_RETRIES, o->retries);
    wm__stat_add(c, WM_STAT_REPLAYED, o->replayed);
}

static void encode_batch(wm_client *c, wm__record *records, size_t n, wm__buf *out) {
    wm__buf_reset(out);
    for (size_t i = 0; i < n; i++) {
        wm__encode_event(out, c, &records[i]);
        wm__record_release(&records[i]);
    }
}

/* Hands an encoded batch to every target in pieces of at most batch_max_bytes (whole lines; a
 * longer event goes alone), so no request or spool record is over what a receiver takes. With no
 * policy the pieces go straight to the spools. */
static void hand_over(wm_client *c, const wm__buf *buf, const wm__delivery_policy *policy,
                      wm__outcome_counts *o) {
    const char *p = buf->data;
    size_t left = buf->len;
    while (left > 0) {
        uint32_t lines;
        size_t piece = wm__ndjson_prefix(p, left, c->cfg.batch_max_bytes, UINT32_MAX, &lines);
        for (size_t t = 0; t < c->n_targets; t++) {
            wm__outcome_counts one = {0};
            if (policy)
                wm__target_deliver(c->targets[t], p, piece, lines, policy, &one);
            else
                wm__target_spool(c->targets[t], p, piece, lines, &one);
            wm__target_count(c->targets[t], &one, o);
        }
        if (c->n_targets == 0)
            o->dropped += lines;
        p += piece;
        left -= piece;
    }
}

void wm__deliver_to_spool(wm_client *c, wm__record *records, size_t n) {
    wm__buf buf;
    wm__buf_init(&buf);
    encode_batch(c, records, n, &buf);
    wm__outcome_counts o = {0};
    hand_over(c, &buf, NULL, &o);
    add_counts(c, &o);
    wm__buf_free(&buf);
}

static bool any_replay_work(wm_client *c) {
    for (size_t t = 0; t < c->n_targets; t++)
        if (wm__target_has_replay_work(c->targets[t]))
            return true;
    return false;
}

void *wm__worker_main(void *arg) {
    wm_client *c = arg;
    size_t cap = c->cfg.batch_size;
    wm__record *batch = calloc(cap, sizeof *batch);
    wm__buf buf, scratch;
    wm__buf_init(&buf);
    wm__buf_init(&scratch);
    if (!batch) {
        wm__log(WM__LOG_ERROR, "delivery thread: out of memory; events stay queued");
        return NULL;
    }
    pthread_mutex_lock(&c->mu);
    for (;;) {
        if (c->count == 0 && !c->stopping) {
            bool replay = any_replay_work(c);
            if (!replay) {
                struct timespec deadline;
                wm__deadline_after(&deadline, c->cfg.flush_interval_s);
                pthread_cond_timedwait(&c->wake_worker, &c->mu, &deadline);
            }
        } else if (c->count < c->cfg.batch_size && !c->stopping && !c->flush_requested) {
            /* A partial batch: give it up to one flush interval to fill. */
            struct timespec deadline;
            wm__deadline_after(&deadline, c->cfg.flush_interval_s);
            pthread_cond_timedwait(&c->wake_worker, &c->mu, &deadline);
        }
        size_t n = 0;
        while (n < cap && c->count > 0) {
            batch[n++] = c->ring[c->head];
            c->head = (c->head + 1) % c->cfg.queue_size;
            c->count--;
        }
        bool stopping = c->stopping;
        if (c->count == 0)
            c->flush_requested = false;
        if (n == 0 && stopping)
            break;
        pthread_mutex_unlock(&c->mu);

        wm__outcome_counts o = {0};
        if (n > 0) {
            encode_batch(c, batch, n, &buf);
            wm__delivery_policy policy = {c->cfg.sidecar_retries, !stopping};
            hand_over(c, &buf, &policy, &o);
        } else if (!stopping && !wm__aborted(&c->abort_at_us)) {
            for (size_t t = 0; t < c->n_targets; t++) {
                wm__outcome_counts replay = {0};
                if (wm__target_replay_one(c->targets[t], &scratch, &replay)) {
                    wm__target_count(c->targets[t], &replay, NULL);
                    add_counts(c, &replay);
                    wm__spool_consume(c->targets[t]->spool);
                }
            }
        }
        add_counts(c, &o);

        pthread_mutex_lock(&c->mu);
        c->completed += n;
        pthread_cond_broadcast(&c->progress);
    }
    pthread_mutex_unlock(&c->mu);
    free(batch);
    wm__buf_free(&buf);
    wm__buf_free(&scratch);
    return NULL;
}
