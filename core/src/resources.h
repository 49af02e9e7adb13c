/* Internal: clocks and the resource figures reported on finished events. */
#ifndef WM_RESOURCES_H
#define WM_RESOURCES_H

#include <stdint.h>
#include <time.h>

typedef struct wm__usage {
    int64_t cpu_user_us; /* process CPU in user mode since it started, all threads */
    int64_t cpu_sys_us;  /* process CPU in kernel mode since it started, all threads */
    double max_rss_mb;   /* the process's peak resident set size so far (high-water mark), to the
                            byte: rounded to 6 decimals */
} wm__usage;

int64_t wm__now_realtime_us(void);
int64_t wm__now_monotonic_us(void);
/* A fresh getrusage() reading; remembered per thread for wm__usage_baseline. */
void wm__usage_now(wm__usage *out, int64_t mono_now_us);
/* The baseline of a starting job: this thread's last reading when at most 50 us old (and taken in
 * this process), else a fresh one. */
void wm__usage_baseline(wm__usage *out, int64_t mono_now_us);
/* The CLOCK_MONOTONIC time `seconds` from now, for pthread_cond_timedwait on a condition variable
 * created with that clock. */
void wm__deadline_after(struct timespec *ts, double seconds);

#endif
