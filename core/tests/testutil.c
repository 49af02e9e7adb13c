/* Helpers for the unit tests. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

const char *tu_tempdir(void) {
    static char path[256];
    snprintf(path, sizeof path, "/tmp/wm-test-XXXXXX");
    return mkdtemp(path);
}

void tu_paths(const char *base, char dir[300], char spool[300]) {
    snprintf(dir, 300, "%s/out", base);
    snprintf(spool, 300, "%s/spool", base);
}

void tu_quiesce_before_fork(wm_client *c) {
    wm_client_flush(c, 10);
    struct timespec settle = {0, 300 * 1000 * 1000}; /* the thread's wake-up and return to wait */
    nanosleep(&settle, NULL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void tu_rmtree(const char *path) {
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    size_t n = fread(buf, 1, (size_t)size, f);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = n;
    return buf;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

char *tu_read_events(const char *dir, size_t *len) {
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_name);
    size_t total = 0;
    char *all = calloc(1, 1);
    for (int i = 0; i < n; i++) {
        if (!strncmp(names[i]->d_name, "events-", 7)) {
            char path[512];
            size_t l = 0;
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            char *part = tu_read_file(path, &l);
            all = realloc(all, total + l + 1);
            memcpy(all + total, part, l + 1);
            total += l;
            free(part);
        }
        free(names[i]);
    }
    if (n > 0)
        free(names);
    if (len)
        *len = total;
    return all;
}

size_t tu_count_lines(const char *text) {
    size_t n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

wm_status tu_open_direct(const char *dir, const char *spool_dir, const char *extra,
                         wm_client **out) {
    json_t *cfg = json_pack("{s:s, s:[{s:s, s:s}], s:{s:s}, s:{s:s, s:s}, s:f, s:s}", "mode",
                            "direct", "direct_backends", "type", "filesystem", "path", dir, "spool",
                            "path", spool_dir, "app", "name", "unit", "version", "1",
                            "flush_interval", 0.02, "log_level", "error");
    char wrapped[2048];
    snprintf(wrapped, sizeof wrapped, "{%s}", extra);
    json_t *more = json_loads(wrapped, 0, NULL);
    if (more)
        json_object_update_recursive(cfg, more);
    json_decref(more);
    char *text = json_dumps(cfg, 0);
    wm_status st = wm_client_open(text, out);
    free(text);
    json_decref(cfg);
    return st;
}

void tu_fixture_init(tu_fixture *fx) {
    snprintf(fx->base, sizeof fx->base, "%s", tu_tempdir());
    tu_paths(fx->base, fx->dir, fx->spool);
    fx->client = NULL;
}

wm_status tu_fixture_open(tu_fixture *fx, const char *extra) {
    tu_fixture_init(fx);
    return tu_open_direct(fx->dir, fx->spool, extra, &fx->client);
}

size_t tu_fixture_lines(const tu_fixture *fx) {
    char *text = tu_read_events(fx->dir, NULL);
    size_t n = tu_count_lines(text);
    free(text);
    return n;
}

void tu_fixture_done(tu_fixture *fx) {
    tu_rmtree(fx->base);
}

wm_status tu_fixture_close(tu_fixture *fx, double timeout_s) {
    wm_status st = wm_client_close(fx->client, timeout_s);
    fx->client = NULL;
    tu_fixture_done(fx);
    return st;
}

int tu_stderr_to(const char *path) {
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    return saved;
}

void tu_stderr_restore(int saved) {
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
}

int tu_validate_with_schema(const char *ndjson_path) {
    const char *python = getenv("WAFERMON_TEST_PYTHON");
    if (!python)
        python = WM_SOURCE_DIR "/.venv/bin/python"; /* made by scripts/bootstrap.sh */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s -c 'import sys; from wafermon_schema.validate import check_batch; "
             "a, p = check_batch(open(sys.argv[1], \"rb\").read()); "
             "[print(x.as_dict(), file=sys.stderr) for x in p]; "
             "print(len(a), \"events valid\"); sys.exit(1 if p or not a else 0)' %s",
             python, ndjson_path);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
}
