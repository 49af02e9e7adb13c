/* Resource figures: a job's start may reuse its thread's reading from just before (the finish of
 * the previous job), never an old one or another thread's, and the figures stay per job. */
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "resources.h"
#include "testutil.h"

/* Burns ms of this thread's CPU time (not wall time: under load the thread may wait). */
static void burn_cpu_ms(double ms) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    double until = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6 + ms;
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 10000; i++)
            x++;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    } while ((double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6 < until);
}

static double total(const wm__usage *u) {
    return (double)(u->cpu_user_us + u->cpu_sys_us) / 1e6;
}

static void *baseline_on_other_thread(void *arg) {
    wm__usage_baseline(arg, wm__now_monotonic_us());
    return NULL;
}

int test_usage_baseline_reuses_only_a_young_reading_of_this_thread(void) {
    wm__usage first, reused, fresh, other;
    int64_t t = wm__now_monotonic_us();
    wm__usage_now(&first, t);
    burn_cpu_ms(30);
    wm__usage_baseline(&reused, t + 10); /* 10 us later by the caller's clock: reused */
    CHECK(total(&reused) == total(&first));
    pthread_t th;
    CHECK(pthread_create(&th, NULL, baseline_on_other_thread, &other) == 0);
    pthread_join(th, NULL);
    CHECK(total(&other) >= total(&first) + 0.02); /* another thread never sees this reading */
    wm__usage_baseline(&fresh, t + 1000);         /* 1 ms old: read again */
    CHECK(total(&fresh) >= total(&first) + 0.02);
    return 0;
}

static double cpu_of(json_t *event) {
    json_t *m = json_object_get(event, "metrics");
    return json_real_value(json_object_get(m, "cpu_user_s")) +
           json_real_value(json_object_get(m, "cpu_sys_s"));
}

int test_back_to_back_jobs_each_get_their_own_cpu(void) {
    tu_fixture fx;
    CHECK_OK(tu_fixture_open(&fx, ""));
    wm_client *c = fx.client;
    wm_job *busy, *idle;
    CHECK_OK(wm_job_start(c, "busy", NULL, NULL, &busy));
    burn_cpu_ms(40);
    CHECK_OK(wm_job_succeed(busy, NULL));
    CHECK_OK(wm_job_start(c, "idle", NULL, NULL, &idle)); /* reuses busy's finishing reading */
    CHECK_OK(wm_job_succeed(idle, NULL));
    wm_job_destroy(busy);
    wm_job_destroy(idle);
    CHECK_OK(wm_client_close(c, 10));
    char *text = tu_read_events(fx.dir, NULL);
    double busy_cpu = -1, idle_cpu = -1;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *e = json_loads(line, 0, NULL);
        if (!strcmp(json_string_value(json_object_get(e, "event_kind")), "finished")) {
            bool is_busy = !strcmp(json_string_value(json_object_get(e, "business_key")), "busy");
            *(is_busy ? &busy_cpu : &idle_cpu) = cpu_of(e);
        }
        json_decref(e);
    }
    free(text);
    tu_fixture_done(&fx);
    CHECK(busy_cpu >= 0.039); /* at least the 40 ms of CPU it burned */
    CHECK(idle_cpu >= 0 && idle_cpu < 0.01);
    return 0;
}
