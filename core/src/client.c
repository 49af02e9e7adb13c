/* The client: open/close, the bounded queue and its full policy, flush, stats, fork re-arm and the
 * bounded flush at process exit. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "fork.h"
#include "log.h"
#include "resources.h"
#include "slot.h"
#include "status.h"

/* Live clients, for the exit handler. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static wm_client *live_head;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

void wm__client_ref(wm_client *c) {
    atomic_fetch_add(&c->refs, 1);
}

static void client_free(wm_client *c) {
    for (size_t i = 0; i < c->count; i++)
        wm__record_release(&c->ring[(c->head + i) % c->cfg.queue_size]);
    free(c->ring);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->wake_worker);
    pthread_cond_destroy(&c->progress);
    wm__config_free(&c->cfg);
    free(c);
}

void wm__client_unref(wm_client *c) {
    if (atomic_fetch_sub(&c->refs, 1) == 1)
        client_free(c);
}

static void init_sync(wm_client *c) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->wake_worker, &attr);
    pthread_cond_init(&c->progress, &attr);
    pthread_condattr_destroy(&attr);
}

typedef struct adopt_ctx {
    wm_client *c;
} adopt_ctx;

static void adopt_orphan(const char *orphan_slot, void *arg) {
    wm_client *c = ((adopt_ctx *)arg)->c;
    char dir[PATH_MAX];
    for (size_t t = 0; t < c->n_targets; t++) {
        if (!c->targets[t]->spool)
            continue;
        snprintf(dir, sizeof dir, "%s/%s", orphan_slot, c->targets[t]->transport.id);
        if (access(dir, F_OK) == 0)
            wm__spool_adopt(c->targets[t]->spool, dir);
    }
}

static void close_targets(wm_client *c) {
    for (size_t t = 0; t < c->n_targets; t++)
        wm__target_destroy(c->targets[t]);
    c->n_targets = 0;
    wm__slot_release(c->slot_lock_fd);
    c->slot_lock_fd = -1;
    free(c->slot_dir);
    c->slot_dir = NULL;
}

/* Opens the spool slot, the targets and their spools, adopts orphaned slots, starts the thread. */
static wm_status arm(wm_client *c) {
    wm_status st = WM_OK;
    char *dead_letter = NULL;
    c->slot_lock_fd = -1;
    if (c->cfg.spool_enabled) {
        st = wm__slot_acquire(c->cfg.spool_path, &c->slot_dir, &c->slot_lock_fd);
        if (st != WM_OK)
            return st;
        size_t len = strlen(c->cfg.spool_path) + 32;
        dead_letter = malloc(len);
        if (dead_letter)
            snprintf(dead_letter, len, "%s/dead-letter.jsonl", c->cfg.spool_path);
    }
    size_t n = c->cfg.mode == WM__MODE_SIDECAR ? 1 : c->cfg.n_backends;
    for (size_t i = 0; i < n && st == WM_OK; i++) {
        wm__target *t = calloc(1, sizeof *t);
        if (!t) {
            st = wm__fail(WM_E_NOMEM, "out of memory");
            break;
        }
        st = c->cfg.mode == WM__MODE_SIDECAR
                 ? wm__sidecar_transport_open(&c->cfg, &t->transport)
                 : wm__filesystem_transport_open(&c->cfg.backends[i], &t->transport);
        if (st == WM_OK && c->slot_dir) {
            char dir[PATH_MAX];
            snprintf(dir, sizeof dir, "%s/%s", c->slot_dir, t->transport.id);
            st = wm__spool_open(dir, c->cfg.spool_max_bytes / n, &t->spool);
        }
        t->abort_at = &c->abort_at_us;
        t->name = c->cfg.mode == WM__MODE_SIDECAR ? "sidecar" : c->cfg.backends[i].name;
        t->max_bytes = c->cfg.batch_max_bytes;
        if (st == WM_OK && dead_letter && !(t->dead_letter_path = strdup(dead_letter)))
            st = wm__fail(WM_E_NOMEM, "out of memory");
        if (st != WM_OK) {
            wm__target_destroy(t);
            break;
        }
        c->targets[c->n_targets++] = t;
    }
    free(dead_letter);
    if (st == WM_OK && c->slot_dir) {
        adopt_ctx ctx = {c};
        wm__slot_for_each_orphan(c->cfg.spool_path, c->slot_dir, adopt_orphan, &ctx);
    }
    if (st == WM_OK) {
        c->stopping = false;
        int rc = pthread_create(&c->worker, NULL, wm__worker_main, c);
        if (rc != 0)
            st = wm__fail(WM_E_INTERNAL, "cannot start the delivery thread: %s", strerror(rc));
        else
            c->worker_running = true;
    }
    if (st != WM_OK)
        close_targets(c);
    return st;
}

/* Sets the time after which nothing more is sent: the transfer in flight is abandoned then. */
static void abort_at(wm_client *c, int64_t at_us) {
    int64_t prev = atomic_load(&c->abort_at_us);
    if (prev == 0 || at_us < prev)
        atomic_store(&c->abort_at_us, at_us == 0 ? 1 : at_us);
}

/* Stops the delivery thread: it spools what is still queued (and what it had in flight, abandoned
 * at the abort time), then ends. */
static void stop_worker(wm_client *c) {
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_signal(&c->wake_worker);
    bool running = c->worker_running;
    c->worker_running = false;
    pthread_mutex_unlock(&c->mu);
    if (running)
        pthread_join(c->worker, NULL);
}

/* At process exit every open client of this process gets exit_flush_timeout from now, all at
 * once: what is not delivered by then (the batch in flight included) is on the spool when the
 * handler returns, for the next start. */
static void flush_all_at_exit(void) {
    pthread_mutex_lock(&live_mu);
    int64_t now = wm__now_monotonic_us();
    for (wm_client *c = live_head; c; c = c->next_live)
        if (c->fork_generation == wm__fork_generation() && !atomic_load(&c->closed))
            abort_at(c, now + (int64_t)(c->cfg.exit_flush_timeout_s * 1e6));
    for (wm_client *c = live_head; c; c = c->next_live) {
        if (c->fork_generation != wm__fork_generation() || atomic_load(&c->closed))
            continue;
        double left = (double)(atomic_load(&c->abort_at_us) - wm__now_monotonic_us()) / 1e6;
        wm_client_flush(c, left > 0 ? left : 0);
        stop_worker(c);
    }
    pthread_mutex_unlock(&live_mu);
}

static void register_exit_handler(void) {
    atexit(flush_all_at_exit);
}

wm_status wm_client_open(const char *config_json, wm_client **out) {
    if (!out)
        return wm__fail(WM_E_INVALID_ARGUMENT, "wm_client_open: out must not be NULL");
    *out = NULL;
    wm_client *c = calloc(1, sizeof *c);
    if (!c)
        return wm__fail(WM_E_NOMEM, "out of memory");
    wm_status st = wm__config_load(config_json, &c->cfg);
    if (st != WM_OK) {
        free(c);
        return st;
    }
    wm__log_set_level(c->cfg.log_level);
    c->ring = calloc(c->cfg.queue_size, sizeof *c->ring);
    if (!c->ring) {
        size_t size = c->cfg.queue_size;
        wm__config_free(&c->cfg);
        free(c);
        return wm__fail(WM_E_NOMEM, "out of memory for a queue of %zu events", size);
    }
    atomic_init(&c->refs, 1);
    init_sync(c);
    if (gethostname(c->host, sizeof c->host - 1) != 0 || !c->host[0])
        snprintf(c->host, sizeof c->host, "unknown");
    atomic_store(&c->pid, (int)getpid());
    c->fork_generation = wm__fork_generation();
    st = arm(c);
    if (st != WM_OK) {
        client_free(c);
        return st;
    }
    pthread_once(&exit_once, register_exit_handler);
    pthread_mutex_lock(&live_mu);
    c->next_live = live_head;
    live_head = c;
    pthread_mutex_unlock(&live_mu);
    *out = c;
    return WM_OK;
}

/* In a forked child: the parent's thread is gone and its locks may be held by threads that do not
 * exist here. Start over with fresh locks, an empty queue, an own slot and a new thread. The
 * parent's transports and spools are left untouched (their state may be mid-operation). */
static wm_status rearm_after_fork(wm_client *c) {
    init_sync(c);
    for (size_t i = 0; i < c->count; i++)
        wm__record_release(&c->ring[(c->head + i) % c->cfg.queue_size]);
    c->head = c->count = 0;
    c->pushed = c->completed = 0;
    c->flush_requested = c->stopping = c->worker_running = false;
    atomic_store(&c->abort_at_us, 0);
    for (int s = 0; s < WM_STAT__COUNT; s++)
        atomic_store(&c->stats[s], 0);
    if (c->slot_lock_fd >= 0)
        close(c->slot_lock_fd); /* the parent keeps its lock: it holds the same open file */
    c->slot_lock_fd = -1;
    free(c->slot_dir);
    c->slot_dir = NULL;
    c->n_targets = 0;
    atomic_store(&c->pid, (int)getpid());
    c->fork_generation = wm__fork_generation();
    return arm(c);
}

wm_status wm__client_check(wm_client *c) {
    if (!c)
        return wm__fail(WM_E_INVALID_ARGUMENT, "client is NULL");
    if (atomic_load_explicit(&c->closed, memory_order_relaxed))
        return wm__fail(WM_E_CLOSED, "the client is closed");
    if (c->fork_generation == wm__fork_generation())
        return WM_OK;
    static pthread_mutex_t rearm_mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&rearm_mu);
    wm_status st = WM_OK;
    if (c->fork_generation != wm__fork_generation())
        st = rearm_after_fork(c);
    pthread_mutex_unlock(&rearm_mu);
    return st;
}

wm_status wm__client_push(wm_client *c, wm__record *r) {
    pthread_mutex_lock(&c->mu);
    if (c->stopping) {
        /* The delivery thread has been told to stop (wm_client_close, or the process's exit
         * flush): its last look at the queue may be past, so an event queued now would be lost
         * behind a WM_OK. Refused instead. */
        pthread_mutex_unlock(&c->mu);
        wm__record_release(r);
        return wm__fail(WM_E_CLOSED, "the client is closing (or the process is exiting): the "
                                     "event was not recorded");
    }
    if (c->count < c->cfg.queue_size) {
        c->ring[(c->head + c->count) % c->cfg.queue_size] = *r;
        c->count++;
        c->pushed++;
        /* Wake the thread only for a full batch; otherwise it wakes on its own each interval. */
        if (c->count == c->cfg.batch_size)
            pthread_cond_signal(&c->wake_worker);
        pthread_mutex_unlock(&c->mu);
        wm__stat_add(c, WM_STAT_EMITTED, 1);
        return WM_OK;
    }
    pthread_mutex_unlock(&c->mu);
    if (c->cfg.when_full == WM__WHEN_FULL_DROP) {
        wm__record_release(r);
        /* Counted, and not an error for the caller (nor a detail left in wm_last_error()):
         * monitoring must never break the job. */
        wm__stat_add(c, WM_STAT_DROPPED, 1);
        if (!atomic_exchange(&c->warned_queue_full, true))
            wm__log(WM__LOG_WARN,
                    "the queue of %zu events is full and queue.when_full is \"drop\": events are "
                    "dropped (counted in the \"dropped\" stat)",
                    c->cfg.queue_size);
        return WM_OK;
    }
    /* Policy "spool": this thread encodes and spools the event itself (fsync'd): slower, never
     * lost. */
    pthread_cond_signal(&c->wake_worker);
    wm__deliver_to_spool(c, r, 1);
    pthread_mutex_lock(&c->mu);
    c->pushed++;
    c->completed++;
    pthread_mutex_unlock(&c->mu);
    wm__stat_add(c, WM_STAT_EMITTED, 1);
    return WM_OK;
}

wm_status wm_client_config_get(wm_client *c, const char *key, char *buf, size_t buf_size) {
    if (!c || !key || !buf)
        return wm__fail(WM_E_INVALID_ARGUMENT,
                        "wm_client_config_get: client, key and buf must not be NULL");
    char *text;
    wm_status st = wm__config_value_json(&c->cfg, key, &text);
    if (st != WM_OK)
        return st;
    size_t len = strlen(text);
    if (len >= buf_size)
        st = wm__fail(WM_E_TOO_LARGE, "wm_client_config_get: \"%s\" needs a buffer of %zu bytes",
                      key, len + 1);
    else
        memcpy(buf, text, len + 1);
    free(text);
    return st;
}

wm_status wm_client_flush(wm_client *c, double timeout_s) {
    wm_status st = wm__client_check(c);
    if (st != WM_OK)
        return st;
    if (!(timeout_s >= 0))
        return wm__fail(WM_E_INVALID_ARGUMENT, "wm_client_flush: timeout must be >= 0");
    if (timeout_s > 1e6)
        timeout_s = 1e6;
    struct timespec deadline;
    wm__deadline_after(&deadline, timeout_s);
    pthread_mutex_lock(&c->mu);
    uint64_t goal = c->pushed;
    c->flush_requested = true;
    pthread_cond_signal(&c->wake_worker);
    int rc = 0;
    while (c->completed < goal && rc != ETIMEDOUT && c->worker_running)
        rc = pthread_cond_timedwait(&c->progress, &c->mu, &deadline);
    bool done = c->completed >= goal;
    uint64_t left = goal - (c->completed < goal ? c->completed : goal);
    pthread_mutex_unlock(&c->mu);
    if (!done)
        return wm__fail(WM_E_TIMEOUT, "flush: %llu events not yet delivered or spooled after %gs",
                        (unsigned long long)left, timeout_s);
    return WM_OK;
}

wm_status wm_client_close(wm_client *c, double timeout_s) {
    if (!c)
        return WM_OK;
    if (atomic_load(&c->closed))
        return wm__fail(WM_E_CLOSED, "the client is already closed");
    wm_status st = WM_OK;
    if (!(timeout_s >= 0))
        timeout_s = c->cfg.exit_flush_timeout_s; /* negative (or NaN): the configured exit bound */
    if (timeout_s > 1e6)
        timeout_s = 1e6;
    if (c->fork_generation == wm__fork_generation() || wm__client_check(c) == WM_OK) {
        abort_at(c, wm__now_monotonic_us() + (int64_t)(timeout_s * 1e6));
        st = wm_client_flush(c, timeout_s);
    }
    pthread_mutex_lock(&live_mu);
    for (wm_client **p = &live_head; *p; p = &(*p)->next_live)
        if (*p == c) {
            *p = c->next_live;
            break;
        }
    pthread_mutex_unlock(&live_mu);
    /* The thread spools whatever is still queued, without network, then exits. */
    stop_worker(c);
    close_targets(c);
    atomic_store(&c->closed, true);
    wm__client_unref(c);
    return st;
}

uint64_t wm_client_stat(wm_client *c, wm_stat stat) {
    if (!c || (unsigned)stat >= WM_STAT__COUNT)
        return 0;
    if (stat == WM_STAT_QUEUE_DEPTH) {
        pthread_mutex_lock(&c->mu);
        uint64_t n = c->count;
        pthread_mutex_unlock(&c->mu);
        return n;
    }
    if (!atomic_load(&c->closed) && c->fork_generation == wm__fork_generation() &&
        (stat == WM_STAT_SPOOL_BYTES || stat == WM_STAT_SPOOL_PENDING || stat == WM_STAT_CORRUPT ||
         stat == WM_STAT_DROPPED)) {
        uint64_t bytes = 0, pending = 0;
        pthread_mutex_lock(&c->mu);
        for (size_t t = 0; t < c->n_targets; t++) {
            wm__spool *sp = c->targets[t]->spool;
            if (!sp)
                continue;
            bytes += wm__spool_bytes(sp);
            pending += wm__spool_pending(sp);
            wm__spool_counts counts;
            wm__spool_take_counts(sp, &counts);
            wm__stat_add(c, WM_STAT_CORRUPT, counts.corrupt);
            wm__stat_add(c, WM_STAT_DROPPED, counts.dropped);
            atomic_fetch_add(&c->targets[t]->stats[WM_STAT_CORRUPT], counts.corrupt);
            atomic_fetch_add(&c->targets[t]->stats[WM_STAT_DROPPED], counts.dropped);
        }
        pthread_mutex_unlock(&c->mu);
        atomic_store(&c->stats[WM_STAT_SPOOL_BYTES], bytes);
        atomic_store(&c->stats[WM_STAT_SPOOL_PENDING], pending);
    }
    return atomic_load_explicit(&c->stats[stat], memory_order_relaxed);
}

uint64_t wm_client_backend_stat(wm_client *c, const char *name, wm_stat stat) {
    if (!c || !name || (unsigned)stat >= WM_STAT__COUNT || atomic_load(&c->closed))
        return 0;
    if (stat == WM_STAT_EMITTED || stat == WM_STAT_QUEUE_DEPTH)
        return wm_client_stat(c, stat); /* every target gets every event */
    if (stat == WM_STAT_SPOOL_BYTES || stat == WM_STAT_SPOOL_PENDING || stat == WM_STAT_CORRUPT ||
        stat == WM_STAT_DROPPED)
        wm_client_stat(c, stat); /* takes the spools' counts into the targets' */
    uint64_t value = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t t = 0; t < c->n_targets; t++) {
        wm__target *target = c->targets[t];
        if (!target->name || strcmp(target->name, name) != 0)
            continue;
        if (stat == WM_STAT_SPOOL_BYTES)
            value = target->spool ? wm__spool_bytes(target->spool) : 0;
        else if (stat == WM_STAT_SPOOL_PENDING)
            value = target->spool ? wm__spool_pending(target->spool) : 0;
        else
            value = atomic_load_explicit(&target->stats[stat], memory_order_relaxed);
    }
    pthread_mutex_unlock(&c->mu);
    return value;
}

const char *wm_stat_name(wm_stat stat) {
    static const char *const names[WM_STAT__COUNT] = {
        "emitted",  "delivered",   "spooled",     "dropped",       "retries", "dead_lettered",
        "replayed", "queue_depth", "spool_bytes", "spool_pending", "corrupt"};
    return (unsigned)stat < WM_STAT__COUNT ? names[stat] : NULL;
}
