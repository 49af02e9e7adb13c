/* The application-thread cost of one job start + finish in libwafermon.
 *   core_job_overhead N   runs N start+succeed+destroy in job_loop() and prints ns per job.
 * Under callgrind, --toggle-collect=job_loop counts only the caller's instructions (the delivery
 * thread's work is outside job_loop); core_job_overhead.sh runs both. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <wafermon.h>

__attribute__((noinline)) void job_loop(wm_client *c, long n);

__attribute__((noinline)) void job_loop(wm_client *c, long n) {
    for (long i = 0; i < n; i++) {
        wm_job *job;
        if (wm_job_start(c, "batch-1", NULL, NULL, &job) != WM_OK)
            abort();
        if (wm_job_succeed(job, NULL) != WM_OK)
            abort();
        wm_job_destroy(job);
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000;
    wm_client *c;
    if (wm_client_open(NULL, &c) != WM_OK) {
        fprintf(stderr, "open: %s\n", wm_last_error());
        return 1;
    }
    job_loop(c, n < 1000 ? n : 1000); /* warm-up: page in, seed the generator */
    wm_client_flush(c, 30);
    double t0 = now_s();
    job_loop(c, n);
    double t1 = now_s();
    wm_client_flush(c, 60);
    printf("jobs=%ld ns_per_job=%.1f delivered=%llu spooled=%llu dropped=%llu\n", n,
           (t1 - t0) * 1e9 / (double)n, (unsigned long long)wm_client_stat(c, WM_STAT_DELIVERED),
           (unsigned long long)wm_client_stat(c, WM_STAT_SPOOLED),
           (unsigned long long)wm_client_stat(c, WM_STAT_DROPPED));
    wm_client_close(c, 10);
    return 0;
}
