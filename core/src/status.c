/* The status table shared with every binding, and the per-thread last-error detail. */
#include <stdarg.h>
#include <stdio.h>

#include "status.h"

static const wm_status_desc status_table[] = {
    {WM_OK, "WM_OK", "Ok", "success"},
    {WM_E_INVALID_ARGUMENT, "WM_E_INVALID_ARGUMENT", "InvalidArgumentError", "invalid argument"},
    {WM_E_CONFIG, "WM_E_CONFIG", "ConfigError", "invalid configuration"},
    {WM_E_ENCODING, "WM_E_ENCODING", "EncodingError", "string is not valid UTF-8"},
    {WM_E_METADATA, "WM_E_METADATA", "MetadataError", "metadata is not a JSON object"},
    {WM_E_TOO_LARGE, "WM_E_TOO_LARGE", "TooLargeError", "value exceeds its size limit"},
    {WM_E_QUEUE_FULL, "WM_E_QUEUE_FULL", "QueueFullError", "queue full: event dropped"},
    {WM_E_CLOSED, "WM_E_CLOSED", "ClosedError", "client is closed"},
    {WM_E_STATE, "WM_E_STATE", "StateError", "job is already finished"},
    {WM_E_TIMEOUT, "WM_E_TIMEOUT", "TimeoutError", "timed out"},
    {WM_E_IO, "WM_E_IO", "IOError", "file or directory error"},
    {WM_E_SPOOL_LOCKED, "WM_E_SPOOL_LOCKED", "SpoolLockedError",
     "spool is locked by other processes"},
    {WM_E_NOMEM, "WM_E_NOMEM", "OutOfMemoryError", "out of memory"},
    {WM_E_FORKED, "WM_E_FORKED", "ForkedError", "job handle belongs to the parent process"},
    {WM_E_INTERNAL, "WM_E_INTERNAL", "InternalError", "internal error in wafermon"},
};
#define STATUS_COUNT (sizeof status_table / sizeof status_table[0])

static _Thread_local char last_error[1024];

void wm_status_descs(const wm_status_desc **descs, size_t *count) {
    if (descs)
        *descs = status_table;
    if (count)
        *count = STATUS_COUNT;
}

const char *wm_status_name(wm_status status) {
    if ((unsigned)status < STATUS_COUNT)
        return status_table[status].name;
    return "WM_E_UNKNOWN";
}

const char *wm_status_message(wm_status status) {
    if ((unsigned)status < STATUS_COUNT)
        return status_table[status].message;
    return "unknown status";
}

const char *wm_last_error(void) {
    return last_error;
}

wm_status wm__fail(wm_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}
