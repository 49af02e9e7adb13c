/* Jobs and sub-jobs: argument checks, the records they emit, and the figures on "finished".
 * Everything here runs on the caller's thread, so it only checks, copies and queues. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "fork.h"
#include "job.h"
#include "status.h"
#include "utf8.h"

#define MAX_KEY 256
#define MAX_SITE 128
#define MAX_APP_TEXT 128
#define MAX_METADATA 65536
#define MAX_ERROR_TYPE 256
#define MAX_ERROR_MESSAGE 8192

void wm__job_ref(wm_job *job) {
    atomic_fetch_add_explicit(&job->refs, 1, memory_order_relaxed);
}

void wm__job_unref(wm_job *job) {
    if (atomic_fetch_sub_explicit(&job->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (job->parent)
        wm__job_unref(job->parent);
    wm__client_unref(job->client);
    free(job->app_block);
    free(job);
}

/* A caller string: NULL allowed when optional; valid UTF-8, at most max bytes. */
static wm_status check_text(const char *what, const char *s, size_t max, bool allow_empty,
                            size_t *len_out) {
    size_t len = strlen(s);
    if (!allow_empty && len == 0)
        return wm__fail(WM_E_INVALID_ARGUMENT, "%s must not be empty", what);
    if (len > max)
        return wm__fail(WM_E_TOO_LARGE, "%s is %zu bytes, more than the limit of %zu", what, len,
                        max);
    if (!wm__utf8_valid(s, len))
        return wm__fail(WM_E_ENCODING, "%s is not valid UTF-8", what);
    *len_out = len;
    return WM_OK;
}

/* Parses metadata_json into a JSON object; NULL input gives *out = NULL (empty). */
wm_status wm__metadata_parse(const char *metadata_json, json_t **out) {
    *out = NULL;
    if (!metadata_json)
        return WM_OK;
    size_t len = strlen(metadata_json);
    if (len > MAX_METADATA)
        return wm__fail(WM_E_TOO_LARGE, "metadata is %zu bytes of JSON, more than the limit of %d",
                        len, MAX_METADATA);
    if (!wm__utf8_valid(metadata_json, len))
        return wm__fail(WM_E_ENCODING, "metadata is not valid UTF-8");
    json_error_t err;
    json_t *v = json_loadb(metadata_json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!v)
        return wm__fail(WM_E_METADATA, "metadata is not valid JSON (column %d): %s", err.column,
                        err.text);
    if (!json_is_object(v)) {
        const char *type = json_is_array(v)    ? "array"
                           : json_is_string(v) ? "string"
                           : json_is_number(v) ? "number"
                           : json_is_null(v)   ? "null"
                                               : "boolean";
        json_decref(v);
        return wm__fail(WM_E_METADATA, "metadata must be a JSON object, got a JSON %s", type);
    }
    *out = v;
    return WM_OK;
}

static void init_record(wm__record *r, wm_job *job, wm__kind kind, wm__outcome outcome) {
    memset(r, 0, sizeof *r);
    wm__job_ref(job);
    r->job = job;
    r->kind = (uint8_t)kind;
    r->outcome = (uint8_t)outcome;
    r->seq = atomic_fetch_add_explicit(&job->next_seq, 1, memory_order_relaxed);
    r->pid = atomic_load_explicit(&job->client->pid, memory_order_relaxed);
    r->at_us = wm__now_realtime_us();
    wm__uuid7(r->event_id, r->at_us / 1000);
    r->progress = NAN;
    if (atomic_load_explicit(&job->has_trace, memory_order_acquire)) {
        r->has_trace = true;
        memcpy(r->trace, job->trace, sizeof r->trace);
    }
}

/* Allocates a job with its strings in the same block. */
static wm_job *new_job(wm_client *c, const char *business_key, size_t bk_len, const char *site,
                       size_t site_len, const char *sub_key, size_t sk_len) {
    size_t size = sizeof(wm_job) + (business_key ? bk_len + 1 : 0) + (site ? site_len + 1 : 0) +
                  (sub_key ? sk_len + 1 : 0);
    wm_job *job = malloc(size);
    if (!job)
        return NULL;
    memset(job, 0, sizeof *job);
    char *p = (char *)(job + 1);
    if (business_key) {
        memcpy(p, business_key, bk_len + 1);
        job->business_key = p;
        p += bk_len + 1;
    }
    if (site) {
        memcpy(p, site, site_len + 1);
        job->site_id = p;
        p += site_len + 1;
    }
    if (sub_key) {
        memcpy(p, sub_key, sk_len + 1);
        job->sub_key = p;
    }
    atomic_init(&job->refs, 1);
    wm__client_ref(c);
    job->client = c;
    job->fork_generation = wm__fork_generation();
    for (int i = 0; i < 4; i++)
        job->metric_override[i] = NAN;
    return job;
}

/* A CPU delta in seconds; never negative (the kernel's user/system split can shift between
 * readings). */
static double cpu_seconds(int64_t delta_us) {
    return delta_us > 0 ? (double)delta_us / 1e6 : 0;
}

static wm_status emit_started(wm_job *job, json_t *metadata, wm_job **out) {
    job->started_mono_us = wm__now_monotonic_us();
    wm__usage_baseline(&job->started_usage, job->started_mono_us);
    wm__record r;
    init_record(&r, job, WM__STARTED, WM__RUNNING);
    wm__uuid7(job->entity_id, r.at_us / 1000);
    r.metadata = metadata;
    wm_status st = wm__client_push(job->client, &r);
    if (st != WM_OK) {
        wm__job_unref(job);
        return st;
    }
    *out = job;
    return WM_OK;
}

/* Copies the given app strings into one block owned by the job; NULL ones stay NULL. */
static bool set_app(wm_job *job, const char *name, size_t name_len, const char *version,
                    size_t version_len, const char *id, size_t id_len) {
    size_t size =
        (name ? name_len + 1 : 0) + (version ? version_len + 1 : 0) + (id ? id_len + 1 : 0);
    if (size == 0)
        return true;
    char *p = malloc(size);
    if (!p)
        return false;
    job->app_block = p;
    const char *src[3] = {name, version, id};
    size_t len[3] = {name_len, version_len, id_len};
    const char **dst[3] = {&job->app_name, &job->app_version, &job->app_id};
    for (int i = 0; i < 3; i++) {
        if (!src[i])
            continue;
        memcpy(p, src[i], len[i] + 1);
        *dst[i] = p;
        p += len[i] + 1;
    }
    return true;
}

wm_status wm_job_start_app(wm_client *client, const char *app_name, const char *app_version,
                           const char *app_id, const char *business_key, const char *site_id,
                           const char *metadata_json, wm_job **out) {
    if (!out)
        return wm__fail(WM_E_INVALID_ARGUMENT, "wm_job_start: out must not be NULL");
    *out = NULL;
    wm_status st = wm__client_check(client);
    if (st != WM_OK)
        return st;
    size_t bk_len = 0, site_len = 0, name_len = 0, version_len = 0, id_len = 0;
    if (business_key &&
        (st = check_text("business_key", business_key, MAX_KEY, true, &bk_len)) != WM_OK)
        return st;
    if (site_id && (st = check_text("site_id", site_id, MAX_SITE, false, &site_len)) != WM_OK)
        return st;
    if (app_name &&
        (st = check_text("app name", app_name, MAX_APP_TEXT, false, &name_len)) != WM_OK)
        return st;
    if (app_version &&
        (st = check_text("app version", app_version, MAX_APP_TEXT, true, &version_len)) != WM_OK)
        return st;
    if (app_id && (st = check_text("app id", app_id, MAX_APP_TEXT, false, &id_len)) != WM_OK)
        return st;
    json_t *metadata;
    if ((st = wm__metadata_parse(metadata_json, &metadata)) != WM_OK)
        return st;
    wm_job *job = new_job(client, business_key, bk_len, site_id, site_len, NULL, 0);
    if (!job || !set_app(job, app_name, name_len, app_version, version_len, app_id, id_len)) {
        if (job)
            wm__job_unref(job);
        json_decref(metadata);
        return wm__fail(WM_E_NOMEM, "out of memory");
    }
    if (!site_id)
        job->site_id = client->cfg.site_id; /* the client outlives the job */
    return emit_started(job, metadata, out);
}

wm_status wm_job_start(wm_client *client, const char *business_key, const char *site_id,
                       const char *metadata_json, wm_job **out) {
    return wm_job_start_app(client, NULL, NULL, NULL, business_key, site_id, metadata_json, out);
}

wm_status wm_subjob_start(wm_job *parent, const char *sub_key, const char *metadata_json,
                          wm_job **out) {
    if (!out)
        return wm__fail(WM_E_INVALID_ARGUMENT, "wm_subjob_start: out must not be NULL");
    *out = NULL;
    if (!parent)
        return wm__fail(WM_E_INVALID_ARGUMENT, "parent job is NULL");
    wm_status st = wm__client_check(parent->client);
    if (st != WM_OK)
        return st;
    size_t sk_len = 0;
    if (sub_key && (st = check_text("sub_key", sub_key, MAX_KEY, true, &sk_len)) != WM_OK)
        return st;
    json_t *metadata;
    if ((st = wm__metadata_parse(metadata_json, &metadata)) != WM_OK)
        return st;
    wm_job *job = new_job(parent->client, NULL, 0, NULL, 0, sub_key, sk_len);
    if (!job) {
        json_decref(metadata);
        return wm__fail(WM_E_NOMEM, "out of memory");
    }
    wm__job_ref(parent); /* for parent_id and the inherited strings */
    job->parent = parent;
    job->is_subjob = true;
    job->business_key = parent->business_key;
    job->site_id = parent->site_id;
    job->app_name = parent->app_name; /* the parent, referenced, owns them */
    job->app_version = parent->app_version;
    job->app_id = parent->app_id;
    return emit_started(job, metadata, out);
}

/* Checks that the job may emit now. */
static wm_status check_job(wm_job *job) {
    if (!job)
        return wm__fail(WM_E_INVALID_ARGUMENT, "job is NULL");
    wm_status st = wm__client_check(job->client);
    if (st != WM_OK)
        return st;
    if (job->fork_generation != wm__fork_generation())
        return wm__fail(
            WM_E_FORKED,
            "this job was started in the parent process; in a child, start a sub-job or "
            "a new job instead");
    if (atomic_load_explicit(&job->finished, memory_order_acquire))
        return wm__fail(WM_E_STATE, "the job is already finished");
    return WM_OK;
}

wm_status wm_job_progress(wm_job *job, double fraction, const char *metadata_json) {
    wm_status st = check_job(job);
    if (st != WM_OK)
        return st;
    if (!isnan(fraction) && !(fraction >= 0.0 && fraction <= 1.0))
        return wm__fail(WM_E_INVALID_ARGUMENT,
                        "progress must be between 0 and 1 (or NaN for none), got %g", fraction);
    json_t *metadata;
    if ((st = wm__metadata_parse(metadata_json, &metadata)) != WM_OK)
        return st;
    wm__record r;
    init_record(&r, job, WM__PROGRESS, WM__RUNNING);
    r.progress = fraction;
    r.metadata = metadata;
    return wm__client_push(job->client, &r);
}

wm_status wm_job_heartbeat(wm_job *job) {
    wm_status st = check_job(job);
    if (st != WM_OK)
        return st;
    wm__record r;
    init_record(&r, job, WM__HEARTBEAT, WM__RUNNING);
    return wm__client_push(job->client, &r);
}

static bool lower_hex(const char *s, size_t n) {
    if (strlen(s) != n)
        return false;
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
        nonzero |= s[i] != '0';
    }
    return nonzero; /* W3C: all zeros is invalid */
}

static uint8_t hex_value(char c) {
    return (uint8_t)(c <= '9' ? c - '0' : c - 'a' + 10);
}

wm_status wm_job_set_trace(wm_job *job, const char *trace_id, const char *span_id) {
    if (!job)
        return wm__fail(WM_E_INVALID_ARGUMENT, "job is NULL");
    if (!trace_id || !lower_hex(trace_id, 32))
        return wm__fail(WM_E_INVALID_ARGUMENT,
                        "trace_id must be 32 lower-case hex digits, not all zero");
    if (!span_id || !lower_hex(span_id, 16))
        return wm__fail(WM_E_INVALID_ARGUMENT,
                        "span_id must be 16 lower-case hex digits, not all zero");
    for (int i = 0; i < 16; i++)
        job->trace[i] = (uint8_t)(hex_value(trace_id[2 * i]) << 4 | hex_value(trace_id[2 * i + 1]));
    for (int i = 0; i < 8; i++)
        job->trace[16 + i] =
            (uint8_t)(hex_value(span_id[2 * i]) << 4 | hex_value(span_id[2 * i + 1]));
    atomic_store_explicit(&job->has_trace, true, memory_order_release);
    return WM_OK;
}

static const char *const metric_names[4] = {"duration_s", "cpu_user_s", "cpu_sys_s", "mem_max_mb"};

wm_status wm_job_set_metric(wm_job *job, const char *name, double value) {
    if (!job)
        return wm__fail(WM_E_INVALID_ARGUMENT, "job is NULL");
    if (!name)
        return wm__fail(WM_E_INVALID_ARGUMENT, "metric name is NULL");
    if (!isfinite(value) || value < 0)
        return wm__fail(WM_E_INVALID_ARGUMENT, "metric %s must be finite and >= 0, got %g", name,
                        value);
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, metric_names[i])) {
            job->metric_override[i] = value;
            return WM_OK;
        }
    return wm__fail(WM_E_INVALID_ARGUMENT,
                    "unknown metric \"%.64s\": use duration_s, cpu_user_s, cpu_sys_s or mem_max_mb",
                    name);
}

/* Copies at most max bytes of s, cut at a character boundary and marked with "..." when cut. */
static char *bounded_copy(const char *s, size_t max) {
    size_t len = strlen(s);
    if (len <= max)
        return strdup(s);
    size_t keep = wm__utf8_cut(s, len, max - 3);
    char *out = malloc(keep + 4);
    if (out) {
        memcpy(out, s, keep);
        memcpy(out + keep, "...", 4);
    }
    return out;
}

static wm_status finish(wm_job *job, wm__outcome outcome, const char *error_type,
                        const char *error_message, const char *metadata_json,
                        json_t *extra_metadata) {
    wm_status st = check_job(job);
    if (st != WM_OK) {
        json_decref(extra_metadata);
        return st;
    }
    json_t *metadata = extra_metadata;
    if (!metadata && (st = wm__metadata_parse(metadata_json, &metadata)) != WM_OK)
        return st;
    char *type = NULL, *message = NULL;
    if (outcome == WM__FAILED) {
        type = bounded_copy(error_type, MAX_ERROR_TYPE);
        message = bounded_copy(error_message ? error_message : "", MAX_ERROR_MESSAGE);
        if (!type || !message) {
            free(type);
            free(message);
            json_decref(metadata);
            return wm__fail(WM_E_NOMEM, "out of memory");
        }
    }
    bool expected = false;
    if (!atomic_compare_exchange_strong(&job->finished, &expected, true)) {
        free(type);
        free(message);
        json_decref(metadata);
        return wm__fail(WM_E_STATE, "the job is already finished");
    }
    wm__record r;
    init_record(&r, job, WM__FINISHED, outcome);
    int64_t mono_now_us = wm__now_monotonic_us();
    wm__usage now;
    wm__usage_now(&now, mono_now_us);
    double measured[4] = {(double)(mono_now_us - job->started_mono_us) / 1e6,
                          cpu_seconds(now.cpu_user_us - job->started_usage.cpu_user_us),
                          cpu_seconds(now.cpu_sys_us - job->started_usage.cpu_sys_us),
                          now.max_rss_mb};
    for (int i = 0; i < 4; i++)
        if (!isnan(job->metric_override[i]))
            measured[i] = job->metric_override[i];
    r.metrics = (wm__metrics){measured[0], measured[1], measured[2], measured[3]};
    r.metadata = metadata;
    r.error_type = type;
    r.error_message = message;
    return wm__client_push(job->client, &r);
}

wm_status wm_job_succeed(wm_job *job, const char *metadata_json) {
    return finish(job, WM__SUCCEEDED, NULL, NULL, metadata_json, NULL);
}

wm_status wm_job_fail(wm_job *job, const char *error_type, const char *error_message,
                      const char *metadata_json) {
    if (!job)
        return wm__fail(WM_E_INVALID_ARGUMENT, "job is NULL");
    if (!error_type || !error_type[0])
        return wm__fail(WM_E_INVALID_ARGUMENT, "error_type must be a non-empty string");
    if (!wm__utf8_valid(error_type, strlen(error_type)))
        return wm__fail(WM_E_ENCODING, "error_type is not valid UTF-8");
    if (error_message && !wm__utf8_valid(error_message, strlen(error_message)))
        return wm__fail(WM_E_ENCODING, "error_message is not valid UTF-8");
    return finish(job, WM__FAILED, error_type, error_message, metadata_json, NULL);
}

wm_status wm_job_cancel(wm_job *job, const char *metadata_json) {
    return finish(job, WM__CANCELLED, NULL, NULL, metadata_json, NULL);
}

wm_status wm_job_id(wm_job *job, char *buf, size_t buf_size) {
    if (!job || !buf)
        return wm__fail(WM_E_INVALID_ARGUMENT, "wm_job_id: job and buf must not be NULL");
    if (buf_size < WM_UUID_TEXT_LEN + 1)
        return wm__fail(WM_E_INVALID_ARGUMENT, "wm_job_id: buf must hold %d bytes, got %zu",
                        WM_UUID_TEXT_LEN + 1, buf_size);
    wm__uuid_format(job->entity_id, buf);
    return WM_OK;
}

int wm_job_is_finished(wm_job *job) {
    return job && atomic_load(&job->finished) ? 1 : 0;
}

void wm_job_destroy(wm_job *job) {
    if (!job)
        return;
    if (!atomic_load(&job->finished) && !atomic_load(&job->client->closed) &&
        job->fork_generation == wm__fork_generation()) {
        json_t *reason = json_pack("{s:s}", "wafermon.reason", "handle destroyed while running");
        finish(job, WM__CANCELLED, NULL, NULL, NULL, reason);
    }
    wm__job_unref(job);
}
