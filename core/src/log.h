/* Internal: diagnostics to stderr, filtered by the configured level. */
#ifndef WM_LOG_H
#define WM_LOG_H

typedef enum wm__log_level {
    WM__LOG_OFF = 0,
    WM__LOG_ERROR = 1,
    WM__LOG_WARN = 2,
    WM__LOG_INFO = 3,
    WM__LOG_DEBUG = 4
} wm__log_level;

void wm__log_set_level(wm__log_level level);
void wm__log(wm__log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
