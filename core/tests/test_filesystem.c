/* The direct file backend: rotation by size keeps every event, each file bounded. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "testutil.h"

int test_filesystem_rotation_by_size(void) {
    const char *base = tu_tempdir();
    char dir[300], spool[300];
    tu_paths(base, dir, spool);
    char cfg[1024];
    snprintf(
        cfg, sizeof cfg,
        "{\"mode\": \"direct\", \"direct_backends\": [{\"type\": \"filesystem\", \"path\": \"%s\", "
        "\"max_file_mb\": 0.01}], \"spool\": {\"path\": \"%s\"}, \"batch_size\": 10, "
        "\"flush_interval\": 0.01}",
        dir, spool);
    wm_client *c;
    CHECK_OK(wm_client_open(cfg, &c));
    for (int i = 0; i < 200; i++) {
        wm_job *j;
        CHECK_OK(wm_job_start(c, "rotation", NULL, NULL, &j));
        CHECK_OK(wm_job_succeed(j, NULL));
        wm_job_destroy(j);
        if (i % 20 == 0)
            CHECK_OK(wm_client_flush(c, 5));
    }
    CHECK_OK(wm_client_close(c, 10));
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "events-", 7) != 0)
            continue;
        files++;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        stat(path, &st);
        CHECK(st.st_size <= 10486 + 10 * 1200); /* at most one batch past the limit */
    }
    closedir(d);
    CHECK(files > 5);
    char *text = tu_read_events(dir, NULL);
    CHECK(tu_count_lines(text) == 400);
    free(text);
    tu_rmtree(base);
    return 0;
}
