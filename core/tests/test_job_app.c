/* wm_job_start_app: a job's own app reaches its events and its sub-jobs', beside the client's. */
#include <jansson.h>
#include <stdlib.h>

#include "testutil.h"

static const char *app_field(json_t *event, const char *k) {
    return json_string_value(json_object_get(json_object_get(event, "app"), k));
}

static int two_apps_body(wm_client *c) {
    wm_job *a, *sub, *plain, *b;
    CHECK_OK(wm_job_start_app(c, "app-a", "1.2", "id-a", "batch-a", NULL, NULL, &a));
    CHECK_OK(wm_subjob_start(a, "wafer-1", NULL, &sub));
    CHECK_OK(wm_job_start(c, "batch-plain", NULL, NULL, &plain));
    CHECK_OK(wm_job_start_app(c, "app-b", NULL, NULL, "batch-b", NULL, NULL, &b));
    CHECK_OK(wm_job_succeed(sub, NULL));
    CHECK_OK(wm_job_succeed(a, NULL));
    CHECK_OK(wm_job_succeed(plain, NULL));
    CHECK_OK(wm_job_succeed(b, NULL));
    wm_job_destroy(sub);
    wm_job_destroy(a); /* the sub-job's events may still be queued: they must keep the app */
    wm_job_destroy(plain);
    wm_job_destroy(b);
    return 0;
}

int test_job_app_is_per_job_and_inherited(void) {
    tu_fixture fx;
    CHECK_OK(tu_fixture_open(&fx, "\"app\": {\"name\": \"conf\", \"version\": \"9\"}"));
    wm_client *c = fx.client;
    CHECK(two_apps_body(c) == 0);
    CHECK_OK(wm_client_close(c, 10));
    char *text = tu_read_events(fx.dir, NULL);
    int seen = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *e = json_loads(line, 0, NULL);
        CHECK(e);
        const char *key = json_string_value(json_object_get(e, "business_key"));
        json_t *app = json_object_get(e, "app");
        if (!strcmp(key, "batch-a")) { /* the job and its sub-job */
            CHECK(!strcmp(app_field(e, "name"), "app-a"));
            CHECK(!strcmp(app_field(e, "version"), "1.2"));
            CHECK(!strcmp(app_field(e, "id"), "id-a"));
            CHECK(json_object_size(app) == 3);
        } else if (!strcmp(key, "batch-b")) { /* version from the configuration, no id */
            CHECK(!strcmp(app_field(e, "name"), "app-b"));
            CHECK(!strcmp(app_field(e, "version"), "9"));
            CHECK(json_object_size(app) == 2);
        } else { /* wm_job_start keeps the configured app */
            CHECK(!strcmp(key, "batch-plain"));
            CHECK(!strcmp(app_field(e, "name"), "conf"));
            CHECK(json_object_size(app) == 2);
        }
        seen++;
        json_decref(e);
    }
    free(text);
    tu_fixture_done(&fx);
    CHECK(seen == 8); /* started + finished for four entities */
    return 0;
}

int test_job_app_bad_arguments_are_named(void) {
    tu_fixture fx;
    CHECK_OK(tu_fixture_open(&fx, ""));
    wm_client *c = fx.client;
    wm_job *j = (wm_job *)1;
    CHECK_STATUS(wm_job_start_app(c, "", NULL, NULL, NULL, NULL, NULL, &j), WM_E_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("app name");
    CHECK(j == NULL);
    char long_text[200];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    CHECK_STATUS(wm_job_start_app(c, "a", long_text, NULL, NULL, NULL, NULL, &j), WM_E_TOO_LARGE);
    CHECK_ERROR_MENTIONS("app version");
    CHECK_STATUS(wm_job_start_app(c, "a", NULL, "", NULL, NULL, NULL, &j), WM_E_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("app id");
    CHECK_STATUS(wm_job_start_app(c, "caf\xc3", NULL, NULL, NULL, NULL, NULL, &j), WM_E_ENCODING);
    CHECK_OK(tu_fixture_close(&fx, 10));
    return 0;
}

/* WM_MONITOR_METADATA: the declaration reaches the started event's metadata under
 * "wafermon.monitor". */
int test_job_monitor_declaration_in_started_metadata(void) {
    const char *base = tu_tempdir();
    char dir[300], spool[300];
    tu_paths(base, dir, spool);
    wm_client *c;
    wm_job *job;
    CHECK_OK(tu_open_direct(dir, spool, "", &c));
    CHECK_OK(
        wm_job_start(c, "nightly-backup", NULL,
                     WM_MONITOR_METADATA("{\"schedule\": \"0 2 * * *\", \"tz\": \"Europe/Berlin\","
                                         " \"max_runtime_s\": 3600}"),
                     &job));
    CHECK_OK(wm_job_succeed(job, NULL));
    wm_job_destroy(job);
    CHECK_OK(wm_client_close(c, 10));
    char *text = tu_read_events(dir, NULL);
    int started = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *e = json_loads(line, 0, NULL);
        CHECK(e);
        if (!strcmp(json_string_value(json_object_get(e, "event_kind")), "started")) {
            json_t *m = json_object_get(json_object_get(e, "metadata"), "wafermon.monitor");
            CHECK(!strcmp(json_string_value(json_object_get(m, "schedule")), "0 2 * * *"));
            CHECK(!strcmp(json_string_value(json_object_get(m, "tz")), "Europe/Berlin"));
            CHECK(json_integer_value(json_object_get(m, "max_runtime_s")) == 3600);
            started++;
        }
        json_decref(e);
    }
    free(text);
    CHECK(started == 1);
    return 0;
}
