/* The direct file backend: rotation by size keeps every event, each file bounded. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "testutil.h"

int test_filesystem_rotation_by_size(void) {
    tu_fixture fx;
    tu_fixture_init(&fx);
    char cfg[1024];
    snprintf(
        cfg, sizeof cfg,
        "{\"mode\": \"direct\", \"direct_backends\": [{\"type\": \"filesystem\", \"path\": \"%s\", "
        "\"max_file_mb\": 0.01}], \"spool\": {\"path\": \"%s\"}, \"batch_size\": 10, "
        "\"flush_interval\": 0.01}",
        fx.dir, fx.spool);
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
    DIR *d = opendir(fx.dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "events-", 7) != 0)
            continue;
        files++;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", fx.dir, e->d_name);
        struct stat st;
        stat(path, &st);
        CHECK(st.st_size <= 10486 + 10 * 1200); /* at most one batch past the limit */
    }
    closedir(d);
    CHECK(files > 5);
    CHECK(tu_fixture_lines(&fx) == 400);
    tu_fixture_done(&fx);
    return 0;
}

/* direct_backends[].name: names the backend in the log (and so in the dead-letter file's
 * "target", which is the same description) and in its own stats, is readable back, and is
 * unique. */
int test_filesystem_backend_name_is_in_the_log_and_stats(void) {
    tu_fixture fx;
    CHECK_OK(tu_fixture_open(&fx, "")); /* makes the backend's directory */
    CHECK_OK(wm_client_close(fx.client, 5));
    char log[400];
    snprintf(log, sizeof log, "%s/stderr.log", fx.base);
    wm_client *c;
    char cfg[1400];
    snprintf(cfg, sizeof cfg,
             "{\"mode\": \"direct\", \"direct_backends\": [{\"type\": \"filesystem\", \"name\": "
             "\"archive\", \"path\": \"%s\"}, {\"type\": \"filesystem\", \"name\": \"local\", "
             "\"path\": \"%s/local\"}], \"spool\": {\"path\": \"%s\"}, \"sidecar\": "
             "{\"retries\": 0}, \"flush_interval\": 0.01}",
             fx.dir, fx.base, fx.spool);
    CHECK_OK(wm_client_open(cfg, &c));
    char name[64];
    CHECK_OK(wm_client_config_get(c, "direct_backends[0].name", name, sizeof name));
    CHECK(!strcmp(name, "\"archive\""));
    /* The backend's directory becomes a file: every write fails, the backend is marked down
     * and the log says which backend. */
    tu_rmtree(fx.dir);
    FILE *f = fopen(fx.dir, "w");
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
    /* Each backend's own counters: the broken one spooled both events, the other delivered
     * them; the client's counters are their sums. */
    CHECK(wm_client_backend_stat(c, "archive", WM_STAT_SPOOLED) == 2);
    CHECK(wm_client_backend_stat(c, "archive", WM_STAT_DELIVERED) == 0);
    CHECK(wm_client_backend_stat(c, "archive", WM_STAT_SPOOL_PENDING) == 2);
    CHECK(wm_client_backend_stat(c, "local", WM_STAT_DELIVERED) == 2);
    CHECK(wm_client_backend_stat(c, "local", WM_STAT_SPOOLED) == 0);
    CHECK(wm_client_backend_stat(c, "local", WM_STAT_EMITTED) == 2);
    CHECK(wm_client_backend_stat(c, "nope", WM_STAT_DELIVERED) == 0);
    CHECK(wm_client_backend_stat(NULL, "local", WM_STAT_DELIVERED) == 0);
    CHECK(wm_client_stat(c, WM_STAT_SPOOLED) == 2 && wm_client_stat(c, WM_STAT_DELIVERED) == 2);
    CHECK_OK(wm_client_close(c, 0));
    char *text = tu_read_file(log, NULL);
    CHECK(text && strstr(text, "archive (filesystem "));
    free(text);
    unlink(fx.dir);
    /* Two backends of one name would be told apart by nothing: refused, naming both. */
    snprintf(cfg, sizeof cfg,
             "{\"mode\": \"direct\", \"direct_backends\": [{\"type\": \"filesystem\", \"name\": "
             "\"a\", \"path\": \"%s/1\"}, {\"type\": \"filesystem\", \"name\": \"a\", \"path\": "
             "\"%s/2\"}]}",
             fx.base, fx.base);
    CHECK_STATUS(wm_client_open(cfg, &c), WM_E_CONFIG);
    CHECK_ERROR_MENTIONS("\"direct_backends[1].name\" \"a\" is already the name of "
                         "direct_backends[0]");
    tu_fixture_done(&fx);
    return 0;
}
