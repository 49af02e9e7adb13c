/* hello_job: one job with two wafers, reported through libwafermon.
 * Build:  cc hello_job.c $(pkg-config --cflags --libs wafermon) -o hello_job
 * Run:    WAFERMON_MODE=direct WAFERMON_FILESYSTEM_PATH=/tmp/wafermon-events ./hello_job
 *         (or with a sidecar listening on 127.0.0.1:17000 and no variables at all). */
#include <stdio.h>
#include <wafermon.h>

static int check(wm_status st, const char *what) {
    if (st != WM_OK)
        fprintf(stderr, "%s: %s: %s\n", what, wm_status_name(st), wm_last_error());
    return st == WM_OK;
}

int main(void) {
    wm_client *client;
    if (!check(wm_client_open(NULL, &client), "open"))
        return 1;
    wm_job *job;
    if (!check(wm_job_start(client, "batch-12345", "fab1", "{\"recipe\": \"etch-7\"}", &job),
               "start"))
        return 1;
    for (int i = 1; i <= 2; i++) {
        char key[32];
        snprintf(key, sizeof key, "wafer-%d", i);
        wm_job *wafer;
        if (!check(wm_subjob_start(job, key, NULL, &wafer), "subjob"))
            return 1;
        check(wm_job_progress(wafer, 0.5, "{\"step\": \"etch\"}"), "progress");
        check(wm_job_succeed(wafer, NULL), "succeed");
        wm_job_destroy(wafer);
        check(wm_job_progress(job, i / 2.0, NULL), "progress");
    }
    check(wm_job_succeed(job, "{\"wafers\": 2}"), "succeed");
    char id[37];
    wm_job_id(job, id, sizeof id);
    wm_job_destroy(job);
    int ok = check(wm_client_close(client, 5.0), "close");
    printf("job %s reported (%s)\n", id, ok ? "delivered" : "spooled for later");
    return 0;
}
