/* Internal: the client — configuration, the bounded queue, counters and the delivery thread. */
#ifndef WM_CLIENT_H
#define WM_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "record.h"
#include "target.h"
#include "wafermon.h"

struct wm_client {
    atomic_int refs; /* the user's handle + one per live job */
    wm__config cfg;
    char host[256];
    atomic_int pid;
    unsigned fork_generation;
    atomic_bool closed;

    /* The queue: a ring of cfg.queue_size records, guarded by mu. */
    pthread_mutex_t mu;
    pthread_cond_t wake_worker; /* batch ready, flush requested, or stopping */
    pthread_cond_t progress;    /* the worker finished a batch: flush waiters re-check */
    wm__record *ring;
    size_t head, count;
    uint64_t pushed;    /* events ever queued (or spooled directly by an emitting thread) */
    uint64_t completed; /* of those, delivered, spooled, dead-lettered or dropped */
    bool flush_requested;
    bool stopping;
    bool worker_running;
    pthread_t worker;
    /* Set by close and the exit handler to their deadline: the transfer in flight is abandoned
     * then and everything not confirmed goes to the spool (the exit bound). */
    wm__abort_clock abort_at_us;

    /* Delivery targets: the sidecar, or each direct backend; each has its own spool. */
    wm__target *targets[WM__MAX_BACKENDS];
    size_t n_targets;
    char *slot_dir; /* the locked spool slot, NULL when spooling is disabled */
    int slot_lock_fd;

    atomic_uint_fast64_t stats[WM_STAT__COUNT];
    atomic_bool warned_queue_full; /* the first drop by queue.when_full "drop" is logged */
    struct wm_client *next_live;   /* the list the exit handler flushes */
};

void wm__client_ref(wm_client *c);
void wm__client_unref(wm_client *c);

/* Checks the client is usable from this process, re-arming it in a forked child. */
wm_status wm__client_check(wm_client *c);

/* Queues a record (taking ownership of its contents); applies the queue-full policy. */
wm_status wm__client_push(wm_client *c, wm__record *r);

static inline void wm__stat_add(wm_client *c, wm_stat s, uint64_t n) {
    atomic_fetch_add_explicit(&c->stats[s], n, memory_order_relaxed);
}

/* The delivery thread's body (worker.c). */
void *wm__worker_main(void *arg);
/* Encodes records to NDJSON and hands them to every target, on the calling thread (worker.c);
 * used by the worker, and by an emitting thread spooling directly when the queue is full. */
void wm__deliver_to_spool(wm_client *c, wm__record *records, size_t n);

#endif
