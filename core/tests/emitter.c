/* wm_emitter: a test program for the integration tests (tests/integration, pytest).
 *   wm_emitter emit N K [SLEEP_US]  N jobs (started + finished each); after every K jobs flush
 *                                   and print "flushed <entity_id>" for each job it covered
 *   wm_emitter drain SECONDS         open (adopting the spool), wait until it is replayed, close
 *   wm_emitter exit N                N jobs, then exit() without flush or close: the exit handler
 *                                    must deliver them (bounded by exit_flush_timeout)
 *   wm_emitter close N TIMEOUT       N jobs, then wm_client_close(TIMEOUT) and return
 *   wm_emitter big N BYTES [FBYTES]  N jobs whose started (finished) events' metadata holds a
 *                                    string of BYTES (FBYTES, default BYTES) characters; one flush
 * Configuration comes from WAFERMON_CONFIG / WAFERMON_* as for any program. The last line is the
 * client's stats as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wafermon.h>

static void print_stats(wm_client *c) {
    printf("{");
    for (int s = 0; s < WM_STAT__COUNT; s++)
        printf("%s\"%s\": %llu", s ? ", " : "", wm_stat_name((wm_stat)s),
               (unsigned long long)wm_client_stat(c, (wm_stat)s));
    printf("}\n");
    fflush(stdout);
}

static int emit(wm_client *c, long n, long k, long sleep_us) {
    char(*ids)[37] = calloc((size_t)k, sizeof *ids);
    long pending = 0;
    for (long i = 0; i < n; i++) {
        wm_job *j;
        if (wm_job_start(c, "integration", NULL, "{\"n\": 1}", &j) != WM_OK) {
            fprintf(stderr, "start: %s\n", wm_last_error());
            return 1;
        }
        wm_job_id(j, ids[pending++], 37);
        wm_job_succeed(j, NULL);
        wm_job_destroy(j);
        if (pending == k || i == n - 1) {
            wm_status st = wm_client_flush(c, 30);
            if (st != WM_OK) {
                fprintf(stderr, "flush: %s\n", wm_last_error());
                return 1;
            }
            for (long p = 0; p < pending; p++)
                printf("flushed %s\n", ids[p]);
            fflush(stdout);
            pending = 0;
        }
        if (sleep_us)
            usleep((useconds_t)sleep_us);
    }
    free(ids);
    return 0;
}

static char *blob_metadata(long bytes) {
    size_t len = (size_t)bytes + 16;
    char *meta = malloc(len);
    if (!meta)
        return NULL;
    int used = snprintf(meta, len, "{\"blob\": \"");
    memset(meta + used, 'x', (size_t)bytes);
    snprintf(meta + used + bytes, len - (size_t)used - (size_t)bytes, "\"}");
    return meta;
}

static int emit_big(wm_client *c, long n, long bytes, long finished_bytes) {
    char *meta = blob_metadata(bytes);
    char *finished_meta = blob_metadata(finished_bytes);
    if (!meta || !finished_meta)
        return 1;
    int rc = 0;
    for (long i = 0; i < n && rc == 0; i++) {
        wm_job *j;
        if (wm_job_start(c, "big", NULL, meta, &j) != WM_OK) {
            fprintf(stderr, "start: %s\n", wm_last_error());
            rc = 1;
            break;
        }
        wm_job_succeed(j, finished_meta);
        wm_job_destroy(j);
    }
    free(meta);
    free(finished_meta);
    if (rc == 0 && wm_client_flush(c, 120) != WM_OK) {
        fprintf(stderr, "flush: %s\n", wm_last_error());
        rc = 1;
    }
    return rc;
}

/* n jobs under business key key, each started and succeeded. */
static void succeed_jobs(wm_client *c, long n, const char *key) {
    for (long i = 0; i < n; i++) {
        wm_job *j;
        wm_job_start(c, key, NULL, NULL, &j);
        wm_job_succeed(j, NULL);
        wm_job_destroy(j);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: wm_emitter emit N K [SLEEP_US] | drain SECONDS\n");
        return 2;
    }
    wm_client *c;
    if (wm_client_open(NULL, &c) != WM_OK) {
        fprintf(stderr, "open: %s\n", wm_last_error());
        return 1;
    }
    int rc = 0;
    if (!strcmp(argv[1], "exit")) {
        succeed_jobs(c, atol(argv[2]), "at-exit");
        exit(0);
    }
    if (!strcmp(argv[1], "close")) {
        succeed_jobs(c, atol(argv[2]), "at-close");
        wm_status st = wm_client_close(c, argc > 3 ? atof(argv[3]) : 1);
        printf("close: %s\n", wm_status_name(st));
        return 0;
    }
    if (!strcmp(argv[1], "emit")) {
        rc = emit(c, atol(argv[2]), argc > 3 ? atol(argv[3]) : 100, argc > 4 ? atol(argv[4]) : 0);
    } else if (!strcmp(argv[1], "big")) {
        long bytes = argc > 3 ? atol(argv[3]) : 1000;
        rc = emit_big(c, atol(argv[2]), bytes, argc > 4 ? atol(argv[4]) : bytes);
    } else if (!strcmp(argv[1], "drain")) {
        double limit = atof(argv[2]);
        for (double waited = 0; waited < limit && wm_client_stat(c, WM_STAT_SPOOL_PENDING) > 0;
             waited += 0.05) {
            wm_client_flush(c, 0);
            usleep(50000);
        }
        rc = wm_client_stat(c, WM_STAT_SPOOL_PENDING) == 0 ? 0 : 3;
    }
    print_stats(c);
    wm_client_close(c, 10);
    return rc;
}
