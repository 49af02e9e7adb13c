/* Spool slots: a directory per live process, claimed by flock (see slot.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fsutil.h"
#include "slot.h"
#include "status.h"

/* Opens and try-locks DIR/lock; the fd on success, -1 when held elsewhere or on error. */
static int try_lock(const char *dir) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

wm_status wm__slot_acquire(const char *base, char **slot_dir, int *lock_fd) {
    *slot_dir = NULL;
    *lock_fd = -1;
    if (wm__mkdirs(base, 0700) != 0)
        return wm__fail(WM_E_IO, "spool: cannot create directory %s: %s", base, strerror(errno));
    if (access(base, W_OK) != 0)
        return wm__fail(WM_E_IO, "spool: directory %s is not writable: %s", base, strerror(errno));
    char dir[PATH_MAX];
    for (int i = 0; i < WM__MAX_SLOTS; i++) {
        snprintf(dir, sizeof dir, "%s/slot-%d", base, i);
        if (wm__mkdirs(dir, 0700) != 0)
            return wm__fail(WM_E_IO, "spool: cannot create directory %s: %s", dir, strerror(errno));
        int fd = try_lock(dir);
        if (fd >= 0) {
            *slot_dir = strdup(dir);
            *lock_fd = fd;
            return *slot_dir ? WM_OK : wm__fail(WM_E_NOMEM, "spool: out of memory");
        }
    }
    return wm__fail(WM_E_SPOOL_LOCKED, "spool: all %d slots under %s are locked by other processes",
                    WM__MAX_SLOTS, base);
}

void wm__slot_for_each_orphan(const char *base, const char *own_slot_dir,
                              void (*adopt)(const char *dir, void *arg), void *arg) {
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *e;
    char dir[PATH_MAX];
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "slot-", 5) != 0)
            continue;
        snprintf(dir, sizeof dir, "%s/%s", base, e->d_name);
        if (!strcmp(dir, own_slot_dir))
            continue;
        int fd = try_lock(dir);
        if (fd < 0)
            continue;
        adopt(dir, arg);
        close(fd);
    }
    closedir(d);
}

void wm__slot_release(int lock_fd) {
    if (lock_fd >= 0)
        close(lock_fd);
}
