/* Fuzzes the spool's recovery end to end: the input becomes a segment file in a fresh spool
 * directory (on tmpfs when TMPDIR points there), which is opened, replayed to the end and closed.
 * Every event counted as pending at open must come out of replay, and nothing may crash or leak. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

static char dir[PATH_MAX];

static void empty_dir(void) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX + 300];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
}

static void remove_dir(void) {
    empty_dir();
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/wm-fuzz-spool-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir))
        abort();
    atexit(remove_dir);
    wm__log_set_level(WM__LOG_OFF);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 20)
        return -1;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/seg-%020d.wms", dir, 1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
    wm__spool *sp;
    if (wm__spool_open(dir, 1 << 22, &sp) != WM_OK)
        abort();
    uint64_t pending = wm__spool_pending(sp), replayed = 0;
    wm__buf b;
    wm__buf_init(&b);
    uint32_t n;
    while (wm__spool_peek(sp, &b, &n)) {
        if (b.len == 0 || n == 0)
            abort();
        replayed += n;
        wm__spool_consume(sp);
    }
    if (replayed != pending || wm__spool_pending(sp) != 0)
        abort();
    wm__buf_free(&b);
    wm__spool_close(sp);
    empty_dir();
    return 0;
}
