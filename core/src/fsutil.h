/* Internal: small filesystem helpers. */
#ifndef WM_FSUTIL_H
#define WM_FSUTIL_H

#include <sys/types.h>

/* mkdir -p; 0 on success, -1 with errno. */
int wm__mkdirs(const char *path, mode_t mode);
/* fsync a directory so a created or renamed entry survives a crash; errors ignored. */
void wm__fsync_dir(const char *path);

#endif
