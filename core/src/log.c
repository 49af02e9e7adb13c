/* Diagnostics go to stderr, one line each: the library has no callback into the application,
 * so bindings need not deal with calls from internal threads. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "log.h"

static atomic_int current_level = WM__LOG_WARN;

void wm__log_set_level(wm__log_level level) {
    atomic_store(&current_level, (int)level);
}

void wm__log(wm__log_level level, const char *fmt, ...) {
    if ((int)level > atomic_load(&current_level))
        return;
    static const char *const names[] = {"", "error", "warning", "info", "debug"};
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "wafermon: %s: %s\n", names[level], line);
}
