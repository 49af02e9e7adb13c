/* Encoding: what the core writes is the v1 wire format, field by field and by the schema. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "encode.h"
#include "testutil.h"

/* Runs body(client) with the file backend, closes, returns the events as a JSON array. */
static json_t *events_of(const char *extra, int (*body)(wm_client *)) {
    tu_fixture fx;
    if (tu_fixture_open(&fx, extra) != WM_OK)
        return NULL;
    wm_client *c = fx.client;
    if (body(c) != 0)
        return NULL;
    if (wm_client_close(c, 10) != WM_OK)
        return NULL;
    char *text = tu_read_events(fx.dir, NULL);
    json_t *arr = json_array();
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        json_array_append_new(arr, json_loads(line, 0, NULL));
    free(text);
    tu_fixture_done(&fx);
    return arr;
}

static const char *s(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static int started_body(wm_client *c) {
    wm_job *j;
    CHECK_OK(wm_job_start(c, "batch-1", "fab1", "{\"recipe\": \"r7\", \"n\": [1, 2.5, null]}", &j));
    wm_job_destroy(j);
    return 0;
}

int test_encode_started_event_fields(void) {
    json_t *ev = events_of("", started_body);
    CHECK(ev && json_array_size(ev) == 2); /* started, then cancelled by destroy */
    json_t *e = json_array_get(ev, 0);
    CHECK(!strcmp(s(e, "schema"), "wafermon.event/1"));
    CHECK(!strcmp(s(e, "event_kind"), "started"));
    CHECK(!strcmp(s(e, "entity_type"), "job"));
    CHECK(json_is_null(json_object_get(e, "parent_id")));
    CHECK(json_integer_value(json_object_get(e, "seq")) == 0);
    CHECK(!strcmp(s(e, "site_id"), "fab1"));
    CHECK(!strcmp(s(e, "business_key"), "batch-1"));
    CHECK(json_is_null(json_object_get(e, "sub_key")));
    CHECK(!strcmp(s(e, "status"), "running"));
    CHECK(!strcmp(s(json_object_get(e, "app"), "name"), "unit"));
    CHECK(!strcmp(s(json_object_get(e, "sdk"), "lang"), "c"));
    CHECK(json_integer_value(json_object_get(e, "pid")) == getpid());
    CHECK(strlen(s(e, "event_id")) == 36 && s(e, "event_id")[14] == '7'); /* UUIDv7 */
    json_t *meta = json_object_get(e, "metadata");
    CHECK(!strcmp(s(meta, "recipe"), "r7"));
    CHECK(json_real_value(json_array_get(json_object_get(meta, "n"), 1)) == 2.5);
    CHECK(json_object_get(e, "metrics") == NULL);
    json_t *last = json_array_get(ev, 1);
    CHECK(!strcmp(s(last, "status"), "cancelled"));
    CHECK(!strcmp(s(json_object_get(last, "metadata"), "wafermon.reason"),
                  "handle destroyed while running"));
    CHECK(json_integer_value(json_object_get(last, "seq")) == 1);
    CHECK(!strcmp(s(last, "entity_id"), s(e, "entity_id")));
    json_decref(ev);
    return 0;
}

static int failed_body(wm_client *c) {
    wm_job *j, *w;
    CHECK_OK(wm_job_start(c, "b", NULL, NULL, &j));
    CHECK_OK(wm_subjob_start(j, "wafer-7", NULL, &w));
    CHECK_OK(wm_job_progress(w, 0.25, "{\"step\": \"etch\"}"));
    CHECK_OK(wm_job_heartbeat(w));
    CHECK_OK(wm_job_set_trace(w, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"));
    CHECK_OK(wm_job_set_metric(w, "mem_max_mb", 12.5));
    CHECK_OK(wm_job_fail(w, "ValueError", "bad wafer", NULL));
    CHECK_OK(wm_job_cancel(j, NULL));
    wm_job_destroy(w);
    wm_job_destroy(j);
    return 0;
}

int test_encode_finished_failed_has_error_and_metrics(void) {
    json_t *ev = events_of("\"app\": {\"site_id\": \"fab9\"}", failed_body);
    CHECK(ev && json_array_size(ev) == 6);
    json_t *job_started = json_array_get(ev, 0), *sub_started = json_array_get(ev, 1);
    CHECK(!strcmp(s(job_started, "site_id"), "fab9")); /* from config */
    CHECK(!strcmp(s(sub_started, "entity_type"), "subjob"));
    CHECK(!strcmp(s(sub_started, "parent_id"), s(job_started, "entity_id")));
    CHECK(!strcmp(s(sub_started, "business_key"), "b")); /* inherited */
    CHECK(!strcmp(s(sub_started, "sub_key"), "wafer-7"));
    json_t *progress = json_array_get(ev, 2);
    CHECK(json_real_value(json_object_get(progress, "progress")) == 0.25);
    CHECK(!strcmp(s(json_array_get(ev, 3), "event_kind"), "heartbeat"));
    json_t *fin = json_array_get(ev, 4);
    CHECK(!strcmp(s(fin, "status"), "failed"));
    CHECK(json_integer_value(json_object_get(fin, "seq")) == 3);
    json_t *err = json_object_get(fin, "error");
    CHECK(!strcmp(s(err, "type"), "ValueError") && !strcmp(s(err, "message"), "bad wafer"));
    json_t *m = json_object_get(fin, "metrics");
    CHECK(json_number_value(json_object_get(m, "mem_max_mb")) == 12.5);
    CHECK(json_number_value(json_object_get(m, "duration_s")) >= 0);
    CHECK(json_is_number(json_object_get(m, "cpu_user_s")) &&
          json_is_number(json_object_get(m, "cpu_sys_s")));
    CHECK(!strcmp(s(json_object_get(fin, "trace"), "span_id"), "b7ad6b7169203331"));
    json_t *jfin = json_array_get(ev, 5);
    CHECK(!strcmp(s(jfin, "status"), "cancelled") && json_is_null(json_object_get(jfin, "error")));
    json_decref(ev);
    return 0;
}

static char schema_dir[300];

static int many_kinds_body(wm_client *c) {
    for (int i = 0; i < 50; i++) {
        wm_job *j, *w;
        CHECK_OK(wm_job_start(c, i % 2 ? "k" : NULL, NULL,
                              "{\"i\": 1, \"u\": \"\\u00e9\\ud83d\\ude00\"}", &j));
        CHECK_OK(wm_subjob_start(j, NULL, NULL, &w));
        CHECK_OK(wm_job_progress(w, i % 3 ? NAN : 0.5, NULL));
        CHECK_OK(wm_job_succeed(w, NULL));
        if (i % 3 == 0)
            CHECK_OK(wm_job_fail(j, "E", i % 2 ? NULL : "line1\nline2\t\"q\"", "{}"));
        else
            CHECK_OK(wm_job_succeed(j, NULL));
        wm_job_destroy(w);
        wm_job_destroy(j);
    }
    return 0;
}

int test_encode_output_validates_against_schema(void) {
    tu_fixture fx;
    CHECK_OK(tu_fixture_open(&fx, ""));
    wm_client *c = fx.client;
    snprintf(schema_dir, sizeof schema_dir, "%s", fx.base);
    char all[400];
    CHECK(many_kinds_body(c) == 0);
    CHECK_OK(wm_client_close(c, 10));
    size_t len;
    char *text = tu_read_events(fx.dir, &len);
    CHECK(tu_count_lines(text) == 250);
    snprintf(all, sizeof all, "%s/all.jsonl", fx.base);
    FILE *f = fopen(all, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
    free(text);
    CHECK(tu_validate_with_schema(all) == 0);
    tu_fixture_done(&fx);
    return 0;
}

static int unicode_body(wm_client *c) {
    wm_job *j;
    CHECK_OK(wm_job_start(c, "caf\xc3\xa9 \xe2\x9c\x93 \x01\x1f \"\\/", "fab-\xf0\x9f\x98\x80",
                          "{\"\\u0001ctl\": \"tab\\there\", \"emoji\": \"\xf0\x9f\x98\x80\"}", &j));
    CHECK_OK(wm_job_succeed(j, NULL));
    wm_job_destroy(j);
    return 0;
}

int test_encode_escapes_unicode_and_control_characters(void) {
    json_t *ev = events_of("", unicode_body);
    CHECK(ev && json_array_size(ev) == 2);
    json_t *e = json_array_get(ev, 0);
    CHECK(!strcmp(s(e, "business_key"), "caf\xc3\xa9 \xe2\x9c\x93 \x01\x1f \"\\/"));
    CHECK(!strcmp(s(e, "site_id"), "fab-\xf0\x9f\x98\x80"));
    json_t *meta = json_object_get(e, "metadata");
    CHECK(!strcmp(s(meta, "\x01"
                          "ctl"),
                  "tab\there"));
    CHECK(!strcmp(s(meta, "emoji"), "\xf0\x9f\x98\x80"));
    json_decref(ev);
    return 0;
}

int test_encode_time_format(void) {
    char out[28];
    wm__format_time(0, out);
    CHECK(!strcmp(out, "1970-01-01T00:00:00.000000Z"));
    wm__format_time(1795435036123456LL, out);
    CHECK(!strcmp(out, "2026-11-23T11:57:16.123456Z"));
    wm__format_time(951782400000001LL, out); /* leap day 2000 */
    CHECK(!strcmp(out, "2000-02-29T00:00:00.000001Z"));
    return 0;
}

static int double_as(double v, const char *expected) {
    wm__buf b;
    wm__buf_init(&b);
    wm__buf_append_double(&b, v);
    int ok = strtod(b.data, NULL) == v && (!expected || !strcmp(b.data, expected));
    if (!ok)
        fprintf(stderr, "%.17g encoded as %s, expected %s\n", v, b.data, expected ? expected : "");
    wm__buf_free(&b);
    return ok;
}

int test_encode_doubles_read_back_exactly(void) {
    /* Whole microseconds take the integer path; everything else printf's shortest round trip. */
    CHECK(double_as(0, "0"));
    CHECK(double_as(-0.0, "0"));
    CHECK(double_as(0.5, "0.5"));
    CHECK(double_as(1, "1"));
    CHECK(double_as(0.000001, "0.000001"));
    CHECK(double_as(123.000001, "123.000001"));
    CHECK(double_as(-2.25, "-2.25"));
    CHECK(double_as(86400.123456, "86400.123456"));
    CHECK(double_as(8999999999.5, "8999999999.5"));
    CHECK(double_as(8999999999999.5, NULL));
    CHECK(double_as(1.0 / 3, NULL));
    CHECK(double_as(1e-7, NULL));
    CHECK(double_as(1e300, NULL));
    CHECK(double_as(-1e15, NULL));
    CHECK(double_as(0.0009765625, NULL));           /* 1 KiB in MB: not whole millionths */
    for (long long us = 0; us < 3000000; us += 977) /* every duration a job can have, sampled */
        CHECK(double_as((double)us / 1e6, NULL));
    return 0;
}
