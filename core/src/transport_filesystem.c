/* The direct filesystem backend: appends NDJSON to DIR/events-YYYYMMDD-NNN.jsonl (UTC day), a new
 * file when the day changes or the current one reaches max_file_mb. Several processes may share
 * DIR: each append happens under an flock on DIR/.wafermon.lock, as one write, then fsync. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "status.h"
#include "transport.h"

typedef struct filesystem {
    char *dir;
    uint64_t max_file_bytes;
    bool fsync;
    int lock_fd;
    int fd;        /* the current file, -1 when none is open */
    bool dir_made; /* mkdir -p done; redone after any failure (the directory may have been removed)
                    */
    char day[9];   /* YYYYMMDD of the open file */
    unsigned part; /* its NNN */
} filesystem;

static void today_utc(char out[9]) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(out, 9, "%04d%02d%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
             tm.tm_mday % 100);
}

static unsigned highest_part(const char *dir, const char *day) {
    unsigned best = 1;
    DIR *d = opendir(dir);
    if (!d)
        return best;
    struct dirent *e;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "events-%s-", day);
    size_t plen = strlen(prefix);
    while ((e = readdir(d))) {
        unsigned part;
        if (!strncmp(e->d_name, prefix, plen) && sscanf(e->d_name + plen, "%u.jsonl", &part) == 1 &&
            part > best)
            best = part;
    }
    closedir(d);
    return best;
}

static int open_part(filesystem *fs) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/events-%s-%03u.jsonl", fs->dir, fs->day, fs->part);
    if (fs->fd >= 0)
        close(fs->fd);
    fs->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return fs->fd;
}

static void filesystem_send(void *state, const char *ndjson, size_t len, uint32_t count,
                            const wm__abort_clock *abort_at, wm__send_result *res) {
    (void)count;
    (void)abort_at; /* a local write: bounded by the disk, not by a peer */
    filesystem *fs = state;
    if (!fs->dir_made) {
        if (wm__mkdirs(fs->dir, 0755) != 0) {
            res->kind = WM__SEND_RETRY;
            snprintf(res->reason, sizeof res->reason, "cannot create %s: %s", fs->dir,
                     strerror(errno));
            return;
        }
        fs->dir_made = true;
    }
    if (fs->lock_fd < 0) {
        char lock[PATH_MAX];
        snprintf(lock, sizeof lock, "%s/.wafermon.lock", fs->dir);
        fs->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    }
    if (fs->lock_fd < 0 || flock(fs->lock_fd, LOCK_EX) != 0) {
        fs->dir_made = false;
        res->kind = WM__SEND_RETRY;
        snprintf(res->reason, sizeof res->reason, "cannot lock %s/.wafermon.lock: %s", fs->dir,
                 strerror(errno));
        return;
    }
    char day[9];
    today_utc(day);
    if (fs->fd < 0 || strcmp(day, fs->day) != 0) {
        memcpy(fs->day, day, sizeof day);
        fs->part = highest_part(fs->dir, day);
        open_part(fs);
    }
    struct stat st;
    /* Rotate by size; another process may have rotated already, so look again after opening. */
    while (fs->fd >= 0 && fstat(fs->fd, &st) == 0 && st.st_size > 0 &&
           (uint64_t)st.st_size + len > fs->max_file_bytes && fs->part < 999999) {
        fs->part++;
        open_part(fs);
    }
    if (fs->fd < 0) {
        res->kind = WM__SEND_RETRY;
        snprintf(res->reason, sizeof res->reason, "cannot open a file in %s: %s", fs->dir,
                 strerror(errno));
        flock(fs->lock_fd, LOCK_UN);
        return;
    }
    off_t before = lseek(fs->fd, 0, SEEK_END);
    ssize_t n = write(fs->fd, ndjson, len);
    if (n != (ssize_t)len || (fs->fsync && fdatasync(fs->fd) != 0)) {
        int err = n < 0 ? errno : ENOSPC;
        if (ftruncate(fs->fd, before) != 0) { /* no half batch left behind */
        }
        res->kind = WM__SEND_RETRY;
        snprintf(res->reason, sizeof res->reason, "cannot write to %s: %s", fs->dir, strerror(err));
        close(fs->fd);
        fs->fd = -1;
    } else {
        res->kind = WM__SEND_OK;
    }
    flock(fs->lock_fd, LOCK_UN);
}

static void filesystem_destroy(void *state) {
    filesystem *fs = state;
    if (!fs)
        return;
    if (fs->fd >= 0)
        close(fs->fd);
    if (fs->lock_fd >= 0)
        close(fs->lock_fd);
    free(fs->dir);
    free(fs);
}

static const wm__transport_ops filesystem_ops = {filesystem_send, filesystem_destroy};

wm_status wm__filesystem_transport_open(const wm__backend_config *bc, wm__transport *out) {
    if (wm__mkdirs(bc->path, 0755) != 0)
        return wm__fail(WM_E_IO, "filesystem backend: cannot create directory %s: %s", bc->path,
                        strerror(errno));
    if (access(bc->path, W_OK) != 0)
        return wm__fail(WM_E_IO, "filesystem backend: directory %s is not writable: %s", bc->path,
                        strerror(errno));
    filesystem *fs = calloc(1, sizeof *fs);
    if (!fs || !(fs->dir = strdup(bc->path))) {
        free(fs);
        return wm__fail(WM_E_NOMEM, "out of memory");
    }
    fs->max_file_bytes = bc->max_file_bytes;
    fs->fsync = bc->fsync;
    fs->fd = fs->lock_fd = -1;
    out->ops = &filesystem_ops;
    out->state = fs;
    snprintf(out->id, sizeof out->id, "filesystem-%08x", wm__fnv1a(bc->path));
    if (bc->name) /* the user's name first: it is what they look for in logs and dead letters */
        snprintf(out->description, sizeof out->description, "%s (filesystem %s)", bc->name,
                 bc->path);
    else
        snprintf(out->description, sizeof out->description, "filesystem %s", bc->path);
    return WM_OK;
}
