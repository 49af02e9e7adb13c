/* Internal: clocks and the resource figures reported on finished events. */
#ifndef WM_RESOURCES_H
#define WM_RESOURCES_H

#include <stdint.h>
#include <time.h>

typedef struct wm__usage {
    double cpu_user_s; /* process CPU in user mode since it started, all threads */
    double cpu_sys_s;  /* process CPU in kernel mode since it started, all threads */
    double max_rss_mb; /* the process's peak resident set size so far (high-water mark) */
} wm__usage;

int64_t wm__now_realtime_us(void);
int64_t wm__now_monotonic_us(void);
void wm__usage_now(wm__usage *out);
/* The CLOCK_MONOTONIC time `seconds` from now, for pthread_cond_timedwait on a condition variable
 * created with that clock. */
void wm__deadline_after(struct timespec *ts, double seconds);

#endif
