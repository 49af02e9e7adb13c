/* Encoding of events to the v1 wire format, on the delivery thread. Field order is fixed so the
 * output is stable for tests and diffs. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "encode.h"
#include "job.h"

static const char *const kind_names[] = {"started", "progress", "heartbeat", "finished"};
static const char *const status_names[] = {"running", "succeeded", "failed", "cancelled"};

static void put_digits(char *p, unsigned v, int n) {
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void wm__format_time(int64_t unix_us, char out[28]) {
    if (unix_us < 0)
        unix_us = 0;
    time_t secs = (time_t)(unix_us / 1000000);
    unsigned micros = (unsigned)(unix_us % 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    memcpy(out, "0000-00-00T00:00:00.000000Z", 28);
    put_digits(out, (unsigned)(tm.tm_year + 1900), 4);
    put_digits(out + 5, (unsigned)(tm.tm_mon + 1), 2);
    put_digits(out + 8, (unsigned)tm.tm_mday, 2);
    put_digits(out + 11, (unsigned)tm.tm_hour, 2);
    put_digits(out + 14, (unsigned)tm.tm_min, 2);
    put_digits(out + 17, (unsigned)tm.tm_sec, 2);
    put_digits(out + 20, micros, 6);
}

static void key(wm__buf *b, const char *k) {
    wm__buf_append_char(b, ',');
    wm__buf_append_char(b, '"');
    wm__buf_append_str(b, k);
    wm__buf_append_str(b, "\":");
}

static void str(wm__buf *b, const char *s) {
    if (s)
        wm__buf_append_json_string(b, s, strlen(s));
    else
        wm__buf_append_str(b, "null");
}

/* {"k1":v1,"k2":v2}: the small objects of two strings (error, sdk). */
static void two_strings(wm__buf *b, const char *k1, const char *v1, const char *k2,
                        const char *v2) {
    wm__buf_append_str(b, "{\"");
    wm__buf_append_str(b, k1);
    wm__buf_append_str(b, "\":");
    str(b, v1);
    key(b, k2);
    str(b, v2);
    wm__buf_append_char(b, '}');
}

static void metrics(wm__buf *b, const wm__metrics *m) {
    static const char *const names[] = {"duration_s", "cpu_user_s", "cpu_sys_s", "mem_max_mb"};
    const double values[] = {m->duration_s, m->cpu_user_s, m->cpu_sys_s, m->mem_max_mb};
    for (size_t i = 0; i < 4; i++) {
        wm__buf_append_str(b, i ? ",\"" : "{\"");
        wm__buf_append_str(b, names[i]);
        wm__buf_append_str(b, "\":");
        wm__buf_append_double(b, values[i]);
    }
    wm__buf_append_char(b, '}');
}

static void uuid(wm__buf *b, const uint8_t id[16]) {
    char text[WM_UUID_TEXT_LEN + 1];
    wm__uuid_format(id, text);
    wm__buf_append_char(b, '"');
    wm__buf_append(b, text, WM_UUID_TEXT_LEN);
    wm__buf_append_char(b, '"');
}

static void hex(wm__buf *b, const uint8_t *bytes, size_t n) {
    static const char digits[] = "0123456789abcdef";
    wm__buf_append_char(b, '"');
    for (size_t i = 0; i < n; i++) {
        wm__buf_append_char(b, digits[bytes[i] >> 4]);
        wm__buf_append_char(b, digits[bytes[i] & 15]);
    }
    wm__buf_append_char(b, '"');
}

static int dump_callback(const char *chunk, size_t size, void *arg) {
    wm__buf_append((wm__buf *)arg, chunk, size);
    return 0;
}

void wm__encode_event(wm__buf *b, const wm_client *c, const wm__record *r) {
    const wm_job *j = r->job;
    wm__buf_append_str(b, "{\"schema\":\"wafermon.event/1\"");
    key(b, "event_id");
    uuid(b, r->event_id);
    key(b, "event_kind");
    str(b, kind_names[r->kind]);
    key(b, "entity_type");
    str(b, j->is_subjob ? "subjob" : "job");
    key(b, "entity_id");
    uuid(b, j->entity_id);
    key(b, "parent_id");
    if (j->parent)
        uuid(b, j->parent->entity_id);
    else
        wm__buf_append_str(b, "null");
    key(b, "seq");
    wm__buf_append_u64(b, r->seq);
    key(b, "at");
    char at[28];
    wm__format_time(r->at_us, at);
    wm__buf_append_char(b, '"');
    wm__buf_append(b, at, 27);
    wm__buf_append_char(b, '"');
    key(b, "site_id");
    str(b, j->site_id);
    key(b, "app");
    wm__buf_append_str(b, "{\"name\":");
    str(b, j->app_name ? j->app_name : c->cfg.app_name);
    wm__buf_append_str(b, ",\"version\":");
    str(b, j->app_version ? j->app_version : c->cfg.app_version);
    if (j->app_id) {
        wm__buf_append_str(b, ",\"id\":");
        str(b, j->app_id);
    }
    wm__buf_append_char(b, '}');
    key(b, "business_key");
    str(b, j->business_key);
    key(b, "sub_key");
    str(b, j->sub_key);
    key(b, "status");
    str(b, status_names[r->outcome]);
    if (!isnan(r->progress)) {
        key(b, "progress");
        wm__buf_append_double(b, r->progress);
    }
    if (r->kind == WM__FINISHED) {
        key(b, "metrics");
        metrics(b, &r->metrics);
        key(b, "error");
        if (r->outcome == WM__FAILED)
            two_strings(b, "type", r->error_type, "message",
                        r->error_message ? r->error_message : "");
        else
            wm__buf_append_str(b, "null");
    }
    key(b, "metadata");
    if (r->metadata)
        json_dump_callback(r->metadata, dump_callback, b, JSON_COMPACT | JSON_REAL_PRECISION(17));
    else
        wm__buf_append_str(b, "{}");
    key(b, "host");
    str(b, c->host);
    key(b, "pid");
    wm__buf_append_u64(b, (uint64_t)r->pid);
    key(b, "sdk");
    two_strings(b, "lang", c->cfg.sdk_lang, "version", c->cfg.sdk_version);
    if (r->has_trace) {
        key(b, "trace");
        wm__buf_append_str(b, "{\"trace_id\":");
        hex(b, r->trace, 16);
        wm__buf_append_str(b, ",\"span_id\":");
        hex(b, r->trace + 16, 8);
        wm__buf_append_char(b, '}');
    }
    wm__buf_append_str(b, "}\n");
}
