/* The bounded queue: both full policies, flush, stats. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static int emit_jobs(wm_client *c, int n) {
    for (int i = 0; i < n; i++) {
        wm_job *j;
        CHECK_OK(wm_job_start(c, NULL, NULL, NULL, &j));
        wm_job_destroy(j); /* emits "cancelled" */
    }
    return 0;
}

int test_queue_full_drop_policy_counts(void) {
    tu_fixture fx;
    /* A batch larger than the queue and a long interval: nothing drains until the flush. */
    CHECK_OK(tu_fixture_open(
        &fx, "\"queue\": {\"size\": 5, \"when_full\": \"drop\"}, \"batch_size\": 1000, "
             "\"flush_interval\": 60"));
    wm_client *c = fx.client;
    wm_client_flush(NULL, 0); /* leaves "client is NULL" in wm_last_error() */
    /* The contract (wafermon.h, WM_E_QUEUE_FULL): a dropping emit returns WM_OK, is counted, and
     * leaves no detail behind, since no call returns WM_E_QUEUE_FULL. */
    CHECK(emit_jobs(c, 10) == 0); /* 20 events, each call WM_OK */
    CHECK(wm_client_stat(c, WM_STAT_EMITTED) == 5);
    CHECK(wm_client_stat(c, WM_STAT_DROPPED) == 15);
    CHECK_ERROR_MENTIONS("client is NULL");
    CHECK(wm_client_stat(c, WM_STAT_QUEUE_DEPTH) == 5);
    CHECK_OK(wm_client_flush(c, 10));
    CHECK(wm_client_stat(c, WM_STAT_DELIVERED) == 5);
    CHECK_OK(wm_client_close(c, 5));
    CHECK(tu_fixture_lines(&fx) == 5);
    tu_fixture_done(&fx);
    return 0;
}

int test_queue_full_spool_policy_spools_on_caller(void) {
    tu_fixture fx;
    CHECK_OK(tu_fixture_open(
        &fx, "\"queue\": {\"size\": 5, \"when_full\": \"spool\"}, \"batch_size\": 1000, "
             "\"flush_interval\": 60"));
    wm_client *c = fx.client;
    CHECK(emit_jobs(c, 10) == 0);
    CHECK(wm_client_stat(c, WM_STAT_EMITTED) == 20);
    CHECK(wm_client_stat(c, WM_STAT_DROPPED) == 0);
    /* The first overflow also wakes the thread, so later emits may find room again. */
    uint64_t spooled = wm_client_stat(c, WM_STAT_SPOOLED);
    CHECK(spooled >= 1 && spooled <= 15);
    CHECK_OK(wm_client_flush(c, 10));
    /* The receiver is healthy, so the thread replays what the callers spooled once the queue is
     * quiet. */
    for (int i = 0; i < 500 && wm_client_stat(c, WM_STAT_SPOOL_PENDING) > 0; i++) {
        wm_client_flush(c, 0);
        usleep(10000);
    }
    CHECK(wm_client_stat(c, WM_STAT_SPOOL_PENDING) == 0);
    CHECK(wm_client_stat(c, WM_STAT_REPLAYED) == spooled);
    CHECK_OK(wm_client_close(c, 5));
    CHECK(tu_fixture_lines(&fx) == 20);
    tu_fixture_done(&fx);
    return 0;
}

int test_flush_waits_for_delivery(void) {
    tu_fixture fx;
    CHECK_OK(tu_fixture_open(&fx, "\"flush_interval\": 30"));
    wm_client *c = fx.client;
    CHECK(emit_jobs(c, 50) == 0);
    CHECK_OK(wm_client_flush(c, 10));
    CHECK(wm_client_stat(c, WM_STAT_DELIVERED) == 100);
    char *text = tu_read_events(fx.dir, NULL);
    CHECK(tu_count_lines(text) == 100); /* on disk before close */
    free(text);
    CHECK_STATUS(wm_client_flush(c, -1), WM_E_INVALID_ARGUMENT);
    CHECK_OK(tu_fixture_close(&fx, 5));
    return 0;
}

int test_stats_names_and_bounds(void) {
    CHECK(!strcmp(wm_stat_name(WM_STAT_EMITTED), "emitted"));
    CHECK(!strcmp(wm_stat_name(WM_STAT_CORRUPT), "corrupt"));
    CHECK(wm_stat_name(WM_STAT__COUNT) == NULL);
    CHECK(wm_stat_name((wm_stat)-1) == NULL);
    CHECK(wm_client_stat(NULL, WM_STAT_EMITTED) == 0);
    return 0;
}

/* Jobs finished on other threads while the client closes: every finish that returned WM_OK is
 * delivered (on the file or, past the close's bound, on the spool a later client replays); the
 * others return WM_E_CLOSED. Once wm_client_close has begun, nothing is queued behind the
 * delivery thread's last look. */
enum { CLOSE_RACE_JOBS = 2000, CLOSE_RACE_THREADS = 2 };

typedef struct {
    wm_job **jobs;
    int n;
    int ok;
} finisher;

static void *finish_jobs(void *arg) {
    finisher *f = arg;
    for (int i = 0; i < f->n; i++)
        if (wm_job_succeed(f->jobs[i], NULL) == WM_OK)
            f->ok++;
    return NULL;
}

static size_t count_succeeded(const char *dir) {
    size_t len = 0, n = 0;
    char *text = tu_read_events(dir, &len);
    for (const char *p = text; p && (p = strstr(p, "\"event_kind\":\"finished\"")); p++)
        n++;
    free(text);
    return n;
}

int test_close_while_jobs_finish_loses_none(void) {
    for (int round = 0; round < 3; round++) {
        tu_fixture fx;
        CHECK_OK(tu_fixture_open(&fx, ""));
        static wm_job *jobs[CLOSE_RACE_JOBS];
        for (int i = 0; i < CLOSE_RACE_JOBS; i++)
            CHECK_OK(wm_job_start(fx.client, NULL, NULL, NULL, &jobs[i]));
        finisher f[CLOSE_RACE_THREADS];
        pthread_t threads[CLOSE_RACE_THREADS];
        int per = CLOSE_RACE_JOBS / CLOSE_RACE_THREADS;
        for (int t = 0; t < CLOSE_RACE_THREADS; t++) {
            f[t] = (finisher){jobs + t * per, per, 0};
            CHECK(pthread_create(&threads[t], NULL, finish_jobs, &f[t]) == 0);
        }
        usleep((useconds_t)(round + 1) * 1000);
        CHECK_OK(wm_client_close(fx.client, 5));
        int ok = 0;
        for (int t = 0; t < CLOSE_RACE_THREADS; t++) {
            pthread_join(threads[t], NULL);
            ok += f[t].ok;
        }
        for (int i = 0; i < CLOSE_RACE_JOBS; i++)
            wm_job_destroy(jobs[i]);
        wm_client *again;
        CHECK_OK(tu_open_direct(fx.dir, fx.spool, "", &again));
        /* It replays what the first client spooled once its queue is quiet. */
        for (int i = 0; i < 1000 && wm_client_stat(again, WM_STAT_SPOOL_PENDING) > 0; i++)
            usleep(10000);
        CHECK(wm_client_stat(again, WM_STAT_SPOOL_PENDING) == 0);
        CHECK_OK(wm_client_close(again, 10));
        size_t delivered = count_succeeded(fx.dir);
        if (delivered != (size_t)ok) {
            fprintf(stderr, "round %d: %d finishes returned WM_OK, %zu delivered\n", round, ok,
                    delivered);
            return 1;
        }
        tu_fixture_done(&fx);
    }
    return 0;
}
