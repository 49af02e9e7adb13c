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

/* direct_backends[].name: names the backend in the log (and so in the dead-letter file's
 * "target", which is the same description), is readable back, and is unique. */
int test_filesystem_backend_name_is_in_the_log(void) {
    const char *base = tu_tempdir();
    char dir[300], spool[300], log[400];
    tu_paths(base, dir, spool);
    snprintf(log, sizeof log, "%s/stderr.log", base);
    wm_client *c;
    CHECK_OK(tu_open_direct(dir, spool, "\"log_level\": \"warn\"", &c));
    CHECK_OK(wm_client_close(c, 5));
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"mode\": \"direct\", \"direct_backends\": [{\"type\": \"filesystem\", \"name\": "
             "\"archive\", \"path\": \"%s\"}], \"spool\": {\"path\": \"%s\"}, \"sidecar\": "
             "{\"retries\": 0}, \"flush_interval\": 0.01}",
             dir, spool);
    CHECK_OK(wm_client_open(cfg, &c));
    char name[64];
    CHECK_OK(wm_client_config_get(c, "direct_backends[0].name", name, sizeof name));
    CHECK(!strcmp(name, "\"archive\""));
    /* The backend's directory becomes a file: every write fails, the backend is marked down
     * and the log says which backend. */
    tu_rmtree(dir);
    FILE *f = fopen(dir, "w");
    CHECK(f != NULL);
    fclose(f);
    int saved = tu_stderr_to(log);
    wm_job *j;
    wm_status st = wm_job_start(c, "named", NULL, NULL, &j);
    if (st == WM_OK) {
        st = wm_job_succeed(j, NULL);
        wm_job_destroy(j);
    }
    if (st == WM_OK)
        st = wm_client_flush(c, 10); /* done once the batch is spooled */
    tu_stderr_restore(saved);
    CHECK_OK(st);
    CHECK(wm_client_stat(c, WM_STAT_SPOOLED) == 2);
    CHECK_OK(wm_client_close(c, 0));
    char *text = tu_read_file(log, NULL);
    CHECK(text && strstr(text, "archive (filesystem "));
    free(text);
    unlink(dir);
    /* Two backends of one name would be told apart by nothing: refused, naming both. */
    snprintf(cfg, sizeof cfg,
             "{\"mode\": \"direct\", \"direct_backends\": [{\"type\": \"filesystem\", \"name\": "
             "\"a\", \"path\": \"%s/1\"}, {\"type\": \"filesystem\", \"name\": \"a\", \"path\": "
             "\"%s/2\"}]}",
             base, base);
    CHECK_STATUS(wm_client_open(cfg, &c), WM_E_CONFIG);
    CHECK_ERROR_MENTIONS("\"direct_backends[1].name\" \"a\" is already the name of "
                         "direct_backends[0]");
    tu_rmtree(base);
    return 0;
}
