/* The dead-letter file: events a receiver refused for good, one JSON line each with the reason. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "resources.h"
#include "target.h"

#define DEAD_LETTER_MAX (16ull * 1024ull * 1024ull)

static void append_line(wm__buf *b, const char *target, const char *reason, const char *line,
                        size_t len) {
    wm__buf_append_str(b, "{\"at_us\":");
    wm__buf_append_u64(b, (uint64_t)wm__now_realtime_us());
    wm__buf_append_str(b, ",\"target\":");
    wm__buf_append_json_string(b, target, strlen(target));
    wm__buf_append_str(b, ",\"reason\":");
    wm__buf_append_json_string(b, reason, strlen(reason));
    wm__buf_append_str(b, ",\"event\":");
    wm__buf_append(b, line, len);
    wm__buf_append_str(b, "}\n");
}

void wm__dead_letter(const char *path, const char *target, const char *ndjson, size_t len,
                     const wm__rejection *only, size_t n_only, const char *reason) {
    wm__buf b;
    wm__buf_init(&b);
    size_t index = 0;
    const char *p = ndjson, *end = ndjson + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (!only) {
            append_line(&b, target, reason, p, line_len);
        } else {
            for (size_t i = 0; i < n_only; i++)
                if (only[i].index == index)
                    append_line(&b, target, only[i].reason, p, line_len);
        }
        p += line_len + 1;
        index++;
    }
    if (!path) {
        wm__log(WM__LOG_ERROR, "dead letter (no spool directory to keep it): %.*s",
                (int)(b.len > 2000 ? 2000 : b.len), b.data ? b.data : "");
        wm__buf_free(&b);
        return;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        wm__log(WM__LOG_ERROR, "cannot open the dead-letter file %s", path);
        wm__buf_free(&b);
        return;
    }
    flock(fd, LOCK_EX);
    struct stat st;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size + b.len > DEAD_LETTER_MAX) {
        char old[4096];
        snprintf(old, sizeof old, "%s.1", path);
        rename(path, old); /* the fd still points at the renamed file; write there is fine */
    }
    if (write(fd, b.data, b.len) != (ssize_t)b.len)
        wm__log(WM__LOG_ERROR, "cannot write the dead-letter file %s", path);
    flock(fd, LOCK_UN);
    close(fd);
    wm__log(WM__LOG_WARN, "%s refused events permanently (%s); kept in %s", target, reason, path);
    wm__buf_free(&b);
}
