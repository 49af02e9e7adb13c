/* Clocks and getrusage(): the finished event reports process CPU and peak RSS (docs/c-core.md). */
#include <sys/resource.h>
#include <time.h>

#include "resources.h"

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

void wm__usage_now(wm__usage *out) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    out->cpu_user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    out->cpu_sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    /* Linux reports ru_maxrss in KiB. */
    out->max_rss_mb = (double)ru.ru_maxrss / 1024.0;
}

void wm__deadline_after(struct timespec *ts, double seconds) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    long long ns = ts->tv_nsec + (long long)(seconds * 1e9);
    ts->tv_sec += (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}
