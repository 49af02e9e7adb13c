/* Bad input: every public entry point answers with a status and a message, never a crash. */
#include <math.h>
#include <stdlib.h>

#include "testutil.h"

int test_bad_input_null_handles(void) {
    wm_job *j = NULL;
    CHECK_STATUS(wm_client_open(NULL, NULL), WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_job_start(NULL, "k", NULL, NULL, &j), WM_E_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("client is NULL");
    CHECK_STATUS(wm_subjob_start(NULL, "k", NULL, &j), WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_job_progress(NULL, 0.5, NULL), WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_job_heartbeat(NULL), WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_job_succeed(NULL, NULL), WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_job_fail(NULL, "E", "m", NULL), WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_job_cancel(NULL, NULL), WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_job_set_trace(NULL, "a", "b"), WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_job_set_metric(NULL, "duration_s", 1), WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_job_id(NULL, NULL, 0), WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_client_flush(NULL, 1), WM_E_INVALID_ARGUMENT);
    CHECK_OK(wm_client_close(NULL, 1));
    CHECK(wm_job_is_finished(NULL) == 0);
    wm_job_destroy(NULL);
    tu_fixture fx;
    CHECK_OK(tu_fixture_open(&fx, ""));
    wm_client *c = fx.client;
    CHECK_STATUS(wm_job_start(c, "k", NULL, NULL, NULL), WM_E_INVALID_ARGUMENT);
    CHECK_OK(wm_job_start(c, "k", NULL, NULL, &j));
    char small[10];
    CHECK_STATUS(wm_job_id(j, small, sizeof small), WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_job_set_trace(j, "XYZ", "b7ad6b7169203331"), WM_E_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("trace_id");
    CHECK_STATUS(wm_job_set_trace(j, "00000000000000000000000000000000", "b7ad6b7169203331"),
                 WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_job_set_metric(j, "speed", 1), WM_E_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("unknown metric \"speed\"");
    CHECK_STATUS(wm_job_set_metric(j, "duration_s", NAN), WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_job_set_metric(j, "duration_s", -1), WM_E_INVALID_ARGUMENT);
    CHECK_OK(wm_client_close(c, 5));
    /* The client is closed; the job handle stays safe to use and to destroy. */
    CHECK_STATUS(wm_job_progress(j, 0.5, NULL), WM_E_CLOSED);
    wm_job *sub = NULL;
    CHECK_STATUS(wm_subjob_start(j, "x", NULL, &sub), WM_E_CLOSED);
    CHECK(sub == NULL);
    wm_job_destroy(j);
    tu_fixture_done(&fx);
    return 0;
}

int test_bad_input_invalid_utf8(void) {
    tu_fixture fx;
    CHECK_OK(tu_fixture_open(&fx, ""));
    wm_client *c = fx.client;
    wm_job *j = NULL;
    CHECK_STATUS(wm_job_start(c, "bad\xff", NULL, NULL, &j), WM_E_ENCODING);
    CHECK_ERROR_MENTIONS("business_key");
    CHECK(j == NULL);
    CHECK_STATUS(wm_job_start(c, NULL, "\xc0\xaf", NULL, &j), WM_E_ENCODING); /* overlong '/' */
    CHECK_ERROR_MENTIONS("site_id");
    CHECK_STATUS(wm_job_start(c, "\xed\xa0\x80", NULL, NULL, &j), WM_E_ENCODING); /* surrogate */
    CHECK_STATUS(wm_job_start(c, NULL, NULL, "{\"k\": \"\xff\"}", &j), WM_E_ENCODING);
    CHECK_ERROR_MENTIONS("metadata");
    CHECK_OK(wm_job_start(c, "ok", NULL, NULL, &j));
    wm_job *w = NULL;
    CHECK_STATUS(wm_subjob_start(j, "\xfe", NULL, &w), WM_E_ENCODING);
    CHECK_ERROR_MENTIONS("sub_key");
    CHECK_STATUS(wm_job_fail(j, "Type\xff", "m", NULL), WM_E_ENCODING);
    CHECK_STATUS(wm_job_fail(j, "Type", "m\xff", NULL), WM_E_ENCODING);
    CHECK(!wm_job_is_finished(j)); /* nothing emitted half-way */
    CHECK_OK(wm_job_succeed(j, NULL));
    wm_job_destroy(j);
    CHECK(wm_client_stat(c, WM_STAT_EMITTED) == 2);
    CHECK_OK(tu_fixture_close(&fx, 5));
    return 0;
}

int test_bad_input_metadata_not_object(void) {
    tu_fixture fx;
    CHECK_OK(tu_fixture_open(&fx, ""));
    wm_client *c = fx.client;
    wm_job *j = NULL;
    const char *bad[] = {"[1, 2]",
                         "\"text\"",
                         "42",
                         "null",
                         "true",
                         "{\"a\": }",
                         "{\"a\": 1} trailing",
                         "{\"a\": 1, \"a\": 2}",
                         "",
                         "{\"n\": \"nul\\u0000byte\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(wm_job_start(c, NULL, NULL, bad[i], &j), WM_E_METADATA);
        CHECK_ERROR_MENTIONS("metadata");
    }
    CHECK_OK(wm_job_start(c, NULL, NULL, "{}", &j));
    CHECK_STATUS(wm_job_progress(j, 0.1, "[]"), WM_E_METADATA);
    CHECK_ERROR_MENTIONS("got a JSON array");
    CHECK_STATUS(wm_job_succeed(j, "7"), WM_E_METADATA);
    CHECK_ERROR_MENTIONS("got a JSON number");
    CHECK(!wm_job_is_finished(j));
    CHECK_OK(wm_job_succeed(j, "{\"ok\": true}"));
    wm_job_destroy(j);
    CHECK(wm_client_stat(c, WM_STAT_EMITTED) == 2);
    CHECK_OK(tu_fixture_close(&fx, 5));
    return 0;
}

int test_bad_input_oversized_values(void) {
    tu_fixture fx;
    CHECK_OK(tu_fixture_open(&fx, ""));
    wm_client *c = fx.client;
    wm_job *j = NULL;
    char key[300];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    CHECK_STATUS(wm_job_start(c, key, NULL, NULL, &j), WM_E_TOO_LARGE);
    CHECK_ERROR_MENTIONS("business_key is 299 bytes, more than the limit of 256");
    key[129] = '\0';
    CHECK_STATUS(wm_job_start(c, NULL, key, NULL, &j), WM_E_TOO_LARGE);
    CHECK_ERROR_MENTIONS("site_id");
    CHECK_STATUS(wm_job_start(c, NULL, "", NULL, &j), WM_E_INVALID_ARGUMENT);
    size_t big = 70000;
    char *meta = malloc(big + 1);
    memcpy(meta, "{\"v\": \"", 7);
    memset(meta + 7, 'x', big - 9);
    memcpy(meta + big - 2, "\"}", 3);
    CHECK_STATUS(wm_job_start(c, NULL, NULL, meta, &j), WM_E_TOO_LARGE);
    CHECK_ERROR_MENTIONS("metadata is 70000 bytes");
    /* Just under the limit is fine, and the event stays under the receivers' 98304-byte limit. */
    size_t ok = 65536;
    memset(meta + 7, 'x', ok - 9);
    memcpy(meta + ok - 2, "\"}", 3);
    CHECK_OK(wm_job_start(c, NULL, NULL, meta, &j));
    free(meta);
    CHECK_OK(wm_job_succeed(j, NULL));
    wm_job_destroy(j);
    CHECK_OK(tu_fixture_close(&fx, 5));
    return 0;
}

int test_bad_input_double_finish_and_bad_progress(void) {
    tu_fixture fx;
    CHECK_OK(tu_fixture_open(&fx, ""));
    wm_client *c = fx.client;
    wm_job *j;
    CHECK_OK(wm_job_start(c, NULL, NULL, NULL, &j));
    CHECK_STATUS(wm_job_progress(j, 1.5, NULL), WM_E_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("between 0 and 1");
    CHECK_STATUS(wm_job_progress(j, -0.1, NULL), WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_job_progress(j, INFINITY, NULL), WM_E_INVALID_ARGUMENT);
    CHECK_OK(wm_job_progress(j, NAN, NULL));
    CHECK_STATUS(wm_job_fail(j, "", "m", NULL), WM_E_INVALID_ARGUMENT);
    CHECK_STATUS(wm_job_fail(j, NULL, "m", NULL), WM_E_INVALID_ARGUMENT);
    CHECK_OK(wm_job_succeed(j, NULL));
    CHECK_STATUS(wm_job_succeed(j, NULL), WM_E_STATE);
    CHECK_STATUS(wm_job_cancel(j, NULL), WM_E_STATE);
    CHECK_STATUS(wm_job_heartbeat(j), WM_E_STATE);
    CHECK(wm_job_is_finished(j));
    wm_job_destroy(j);
    CHECK_OK(tu_fixture_close(&fx, 5));
    return 0;
}

int test_bad_input_error_text_is_cut_not_refused(void) {
    tu_fixture fx;
    CHECK_OK(tu_fixture_open(&fx, ""));
    wm_client *c = fx.client;
    wm_job *j;
    CHECK_OK(wm_job_start(c, NULL, NULL, NULL, &j));
    char *msg = malloc(20001);
    for (int i = 0; i < 20000; i += 2)
        memcpy(msg + i, "\xc3\xa9", 2); /* é, so a cut could split a character */
    msg[20000] = '\0';
    char type[400];
    memset(type, 'T', sizeof type - 1);
    type[sizeof type - 1] = '\0';
    CHECK_OK(wm_job_fail(j, type, msg, NULL));
    free(msg);
    wm_job_destroy(j);
    CHECK_OK(wm_client_close(c, 5));
    char path[400];
    snprintf(path, sizeof path, "%s/all.jsonl", fx.base);
    size_t len;
    char *text = tu_read_events(fx.dir, &len);
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
    CHECK(strstr(text, "...\"") != NULL);
    free(text);
    CHECK(tu_validate_with_schema(path) == 0);
    tu_fixture_done(&fx);
    return 0;
}

int test_status_table_is_complete(void) {
    const wm_status_desc *descs;
    size_t n;
    wm_status_descs(&descs, &n);
    CHECK(n == 15);
    for (size_t i = 0; i < n; i++) {
        CHECK(descs[i].code == (int)i);
        CHECK(descs[i].name && descs[i].exception && descs[i].message);
        CHECK(!strcmp(wm_status_name((wm_status)i), descs[i].name));
        for (size_t k = 0; k < i; k++)
            CHECK(strcmp(descs[i].exception, descs[k].exception) != 0);
    }
    CHECK(!strcmp(wm_status_name((wm_status)99), "WM_E_UNKNOWN"));
    CHECK(wm_version() == WAFERMON_VERSION_NUM);
    CHECK(!strcmp(wm_version_string(), WAFERMON_VERSION_STRING));
    return 0;
}
