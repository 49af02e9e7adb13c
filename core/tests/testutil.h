/* Tiny test harness: CHECK macros and helpers shared by the unit tests. */
#ifndef WM_TESTUTIL_H
#define WM_TESTUTIL_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wafermon.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__,      \
                    #cond, wm_last_error());                                                       \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_STATUS(expr, expected)                                                               \
    do {                                                                                           \
        wm_status got_ = (expr);                                                                   \
        if (got_ != (expected)) {                                                                  \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n", __FILE__,     \
                    __LINE__, #expr, wm_status_name(got_), wm_status_name(expected),               \
                    wm_last_error());                                                              \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, WM_OK)
#define CHECK_ERROR_MENTIONS(text) CHECK(strstr(wm_last_error(), (text)) != NULL)

/* A fresh temp directory (mkdtemp); the path is valid until the next call. */
const char *tu_tempdir(void);
/* dir = base/out (the file backend's directory), spool = base/spool; each holds 300 bytes. */
void tu_paths(const char *base, char dir[300], char spool[300]);
/* Removes a directory tree. */
void tu_rmtree(const char *path);
/* Before a test forks: flushes the client, then waits until its delivery thread is idle. Under
 * gcc 12's AddressSanitizer a fork while another thread is inside malloc leaves the allocator lock
 * held in the child, which then hangs (glibc's own malloc is fork-safe; LLVM's ASan fixed this in
 * 2023). The core's idle thread allocates nothing, so a quiet parent makes the child safe. */
void tu_quiesce_before_fork(wm_client *c);
/* Reads a whole file (malloc'd, NUL-terminated), NULL if missing. */
char *tu_read_file(const char *path, size_t *len);
/* Concatenates every events-*.jsonl file in dir (malloc'd). */
char *tu_read_events(const char *dir, size_t *len);
/* Counts lines in text. */
size_t tu_count_lines(const char *text);
/* Opens a client writing to the file backend in dir with its spool under spool_dir; extra is
 * merged config JSON members (without braces), may be "". */
wm_status tu_open_direct(const char *dir, const char *spool_dir, const char *extra,
                         wm_client **out);

/* One test's own world: a fresh temp dir `base` holding the file backend's directory `dir`
 * (base/out) and the spool (base/spool), and a client in mode direct writing there. */
typedef struct tu_fixture {
    char base[300], dir[300], spool[300];
    wm_client *client;
} tu_fixture;
/* Names the directories in a fresh temp dir; opens no client. */
void tu_fixture_init(tu_fixture *fx);
/* tu_fixture_init, then opens fx->client with tu_open_direct(dir, spool, extra). */
wm_status tu_fixture_open(tu_fixture *fx, const char *extra);
/* The number of event lines the file backend has written so far. */
size_t tu_fixture_lines(const tu_fixture *fx);
/* Removes the temp dir (close the client first). */
void tu_fixture_done(tu_fixture *fx);
/* Closes the client within timeout_s, then removes the temp dir; the close's status. */
wm_status tu_fixture_close(tu_fixture *fx, double timeout_s);
/* Sends this process's stderr (the core's log) to path; returns what to give tu_stderr_restore. */
int tu_stderr_to(const char *path);
void tu_stderr_restore(int saved);
/* Validates NDJSON against the conformance schema with the repository's Python validator
 * (wafermon_schema, installed in .venv by the bootstrap); returns 0 when valid. */
int tu_validate_with_schema(const char *ndjson_path);

#endif
