/* The sidecar transport: POST NDJSON to <url>/v1/ingest/events:batch over one keep-alive libcurl
 * handle. 2xx accepted; 207 names rejected lines; 413 is "too large" (the caller splits the
 * batch); 408/429/5xx and connection errors are transient; any other 4xx is permanent. The handle
 * runs in a multi handle polled every POLL_MS, so a transfer is abandoned within that of the abort
 * time (the exit bound), whatever the sidecar does. */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gzip.h"
#include "resources.h"
#include "status.h"
#include "transport.h"

#define POLL_MS 50

typedef struct sidecar {
    CURL *curl;
    CURLM *multi;
    long timeout_ms; /* sidecar.timeout */
    struct curl_slist *headers;
    struct curl_slist *headers_gzip;
    bool gzip;
    wm__buf body;     /* the gzip'd request */
    wm__buf response; /* the response body */
    char error[CURL_ERROR_SIZE];
    double retry_after_s;
} sidecar;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
    sidecar *s = arg;
    size_t len = size * n;
    if (s->response.len < 65536) /* enough for any rejection list we read; the rest is ignored */
        wm__buf_append(&s->response, data, len);
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg) {
    sidecar *s = arg;
    size_t len = size * n;
    if (len > 12 && !strncasecmp(data, "Retry-After:", 12))
        s->retry_after_s = strtod(data + 12, NULL);
    return len;
}

/* Reads {"rejected": [{"index", "field", "message"}]} of a 207. */
static void parse_rejections(sidecar *s, uint32_t count, wm__send_result *res) {
    json_t *root = json_loadb(s->response.data, s->response.len, 0, NULL);
    json_t *arr = root ? json_object_get(root, "rejected") : NULL;
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    res->rejected = n ? calloc(n, sizeof *res->rejected) : NULL;
    for (size_t i = 0; i < n && res->rejected; i++) {
        json_t *item = json_array_get(arr, i);
        json_t *idx = json_object_get(item, "index");
        if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
            json_integer_value(idx) >= (json_int_t)count)
            continue;
        wm__rejection *r = &res->rejected[res->n_rejected++];
        r->index = (size_t)json_integer_value(idx);
        const char *field = json_string_value(json_object_get(item, "field"));
        const char *msg = json_string_value(json_object_get(item, "message"));
        snprintf(r->reason, sizeof r->reason, "%s: %s", field ? field : "event",
                 msg ? msg : "rejected");
    }
    json_decref(root);
}

/* Runs the request to its end, or until the abort time (CURLE_ABORTED_BY_CALLBACK). */
static CURLcode perform(sidecar *s, const wm__abort_clock *abort_at) {
    long timeout_ms = s->timeout_ms;
    int64_t at = abort_at ? atomic_load(abort_at) : 0;
    if (at) {
        int64_t left_ms = (at - wm__now_monotonic_us()) / 1000;
        if (left_ms <= 0)
            return CURLE_ABORTED_BY_CALLBACK;
        if (left_ms < timeout_ms)
            timeout_ms = (long)left_ms;
    }
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    if (curl_multi_add_handle(s->multi, s->curl) != CURLM_OK)
        return CURLE_FAILED_INIT;
    CURLcode rc = CURLE_OK;
    int running = 1;
    while (running) {
        if (curl_multi_perform(s->multi, &running) != CURLM_OK) {
            rc = CURLE_SEND_ERROR;
            break;
        }
        if (!running)
            break;
        if (wm__aborted(abort_at)) {
            rc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        curl_multi_poll(s->multi, NULL, 0, POLL_MS, NULL);
    }
    if (running == 0) {
        int queued;
        CURLMsg *m;
        while ((m = curl_multi_info_read(s->multi, &queued)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == s->curl)
                rc = m->data.result;
    }
    curl_multi_remove_handle(s->multi, s->curl);
    return rc;
}

static void sidecar_send(void *state, const char *ndjson, size_t len, uint32_t count,
                         const wm__abort_clock *abort_at, wm__send_result *res) {
    sidecar *s = state;
    wm__buf_reset(&s->response);
    s->retry_after_s = 0;
    s->error[0] = '\0';
    const char *body = ndjson;
    size_t body_len = len;
    bool gz = s->gzip && wm__gzip(ndjson, len, &s->body);
    if (gz) {
        body = s->body.data;
        body_len = s->body.len;
    }
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, gz ? s->headers_gzip : s->headers);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    CURLcode rc = perform(s, abort_at);
    res->retry_after_s = s->retry_after_s;
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        res->kind = WM__SEND_RETRY;
        snprintf(res->reason, sizeof res->reason,
                 "abandoned unconfirmed at the close/exit deadline; spooled");
        return;
    }
    if (rc != CURLE_OK) {
        res->kind = WM__SEND_RETRY;
        snprintf(res->reason, sizeof res->reason, "%s",
                 s->error[0] ? s->error : curl_easy_strerror(rc));
        return;
    }
    long code = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    int shown = (int)(s->response.len < 300 ? s->response.len : 300);
    if (code == 207) {
        res->kind = WM__SEND_PARTIAL;
        parse_rejections(s, count, res);
    } else if (code == 413) {
        res->kind = WM__SEND_TOO_LARGE;
        snprintf(res->reason, sizeof res->reason, "HTTP 413 for %u events in %zu bytes: %.*s",
                 count, len, shown, s->response.data ? s->response.data : "");
    } else if (code >= 200 && code < 300) {
        res->kind = WM__SEND_OK;
    } else if (code == 408 || code == 429 || code >= 500 || code < 200) {
        res->kind = WM__SEND_RETRY;
        snprintf(res->reason, sizeof res->reason, "HTTP %ld: %.*s", code, shown,
                 s->response.data ? s->response.data : "");
    } else {
        res->kind = WM__SEND_PERMANENT;
        snprintf(res->reason, sizeof res->reason, "HTTP %ld: %.*s", code, shown,
                 s->response.data ? s->response.data : "");
    }
}

static void sidecar_destroy(void *state) {
    sidecar *s = state;
    if (!s)
        return;
    if (s->multi)
        curl_multi_cleanup(s->multi);
    curl_easy_cleanup(s->curl);
    curl_slist_free_all(s->headers);
    curl_slist_free_all(s->headers_gzip);
    wm__buf_free(&s->body);
    wm__buf_free(&s->response);
    free(s);
}

static const wm__transport_ops sidecar_ops = {sidecar_send, sidecar_destroy};

static struct curl_slist *make_headers(const wm__config *cfg, bool gzip) {
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/x-ndjson");
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    if (gzip)
        h = curl_slist_append(h, "Content-Encoding: gzip");
    if (cfg->sidecar_token) {
        char auth[4200];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", cfg->sidecar_token);
        h = curl_slist_append(h, auth);
    }
    return h;
}

wm_status wm__sidecar_transport_open(const wm__config *cfg, wm__transport *out) {
    pthread_once(&curl_once, curl_init_once);
    sidecar *s = calloc(1, sizeof *s);
    if (!s)
        return wm__fail(WM_E_NOMEM, "out of memory");
    s->curl = curl_easy_init();
    s->multi = curl_multi_init();
    s->headers = make_headers(cfg, false);
    s->headers_gzip = make_headers(cfg, true);
    if (!s->curl || !s->multi || !s->headers || !s->headers_gzip) {
        sidecar_destroy(s);
        return wm__fail(WM_E_NOMEM, "sidecar transport: cannot initialise libcurl");
    }
    s->gzip = cfg->sidecar_gzip;
    wm__buf_init(&s->body);
    wm__buf_init(&s->response);
    char url[2200];
    size_t base_len = strlen(cfg->sidecar_url);
    while (base_len > 0 && cfg->sidecar_url[base_len - 1] == '/')
        base_len--;
    snprintf(url, sizeof url, "%.*s/v1/ingest/events:batch", (int)base_len, cfg->sidecar_url);
    curl_easy_setopt(s->curl, CURLOPT_URL, url);
    curl_easy_setopt(s->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L); /* we run on our own thread: no SIGALRM */
    s->timeout_ms = (long)(cfg->sidecar_timeout_s * 1000);
    if (s->timeout_ms < 1)
        s->timeout_ms = 1;
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->error);
    curl_easy_setopt(s->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "libwafermon/" WAFERMON_VERSION_STRING);
    out->ops = &sidecar_ops;
    out->state = s;
    snprintf(out->id, sizeof out->id, "sidecar-%08x", wm__fnv1a(cfg->sidecar_url));
    snprintf(out->description, sizeof out->description, "sidecar %s", url);
    return WM_OK;
}
