/* Clocks and getrusage(): the finished event reports process CPU and peak RSS (docs/c-core.md). */
#include <math.h>
#include <sys/resource.h>
#include <time.h>

#include "fork.h"
#include "resources.h"

/* A start may reuse a reading this young taken on the same thread (see wm__usage_baseline). */
#define USAGE_REUSE_US 50

static _Thread_local struct {
    int64_t mono_us; /* 0: none yet */
    unsigned fork_generation;
    wm__usage usage;
} last_reading;

int64_t wm__now_realtime_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t wm__now_monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void wm__usage_now(wm__usage *out, int64_t mono_now_us) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    out->cpu_user_us = (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
    out->cpu_sys_us = (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
    /* Linux reports ru_maxrss in KiB. Whole millionths of a MB, so the encoder writes it exactly
     * without printf (buf.c). */
    out->max_rss_mb = (double)llround((double)ru.ru_maxrss / 1024.0 * 1e6) / 1e6;
    last_reading.mono_us = mono_now_us;
    last_reading.fork_generation = wm__fork_generation();
    last_reading.usage = *out;
}

/* getrusage() is the dearest call on a job's path (~0.4 us here, and more with many threads: the
 * kernel sums every thread of the process). A job started right after another finished on the same
 * thread — a loop over items — takes the finish's reading as its baseline: at most USAGE_REUSE_US
 * old, so the job's CPU may include up to that much per running thread from before its start. A
 * reading from before a fork is never reused: the child's counters start again from zero. */
void wm__usage_baseline(wm__usage *out, int64_t mono_now_us) {
    if (last_reading.mono_us != 0 && mono_now_us - last_reading.mono_us <= USAGE_REUSE_US &&
        mono_now_us >= last_reading.mono_us &&
        last_reading.fork_generation == wm__fork_generation()) {
        *out = last_reading.usage;
        return;
    }
    wm__usage_now(out, mono_now_us);
}

void wm__deadline_after(struct timespec *ts, double seconds) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    long long ns = ts->tv_nsec + (long long)(seconds * 1e9);
    ts->tv_sec += (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}
