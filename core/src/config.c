/* Configuration: built-in defaults, then WAFERMON_CONFIG (file or inline JSON), then WAFERMON_*
 * variables, then the caller's JSON. Every key is validated; an error names the key and its source.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "status.h"
#include "utf8.h"

#define MB (1024ull * 1024ull)

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

static void set_str(char **slot, const char *value) {
    free(*slot);
    *slot = dup_or_null(value);
}

static char *program_name(void) {
    char buf[PATH_MAX];
    FILE *f = fopen("/proc/self/comm", "r");
    if (f) {
        if (fgets(buf, sizeof buf, f)) {
            buf[strcspn(buf, "\n")] = '\0';
            fclose(f);
            if (buf[0])
                return strdup(buf);
        } else {
            fclose(f);
        }
    }
    return strdup("app");
}

/* $XDG_STATE_HOME/wafermon/spool, ~/.local/state/wafermon/spool, else /tmp/wafermon-<uid>/spool. */
static char *default_spool_path(void) {
    char buf[PATH_MAX];
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    if (!home || !home[0]) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (xdg && xdg[0] == '/')
        snprintf(buf, sizeof buf, "%s/wafermon/spool", xdg);
    else if (home && home[0] == '/' && access(home, W_OK) == 0)
        snprintf(buf, sizeof buf, "%s/.local/state/wafermon/spool", home);
    else
        snprintf(buf, sizeof buf, "/tmp/wafermon-%u/spool", (unsigned)getuid());
    return strdup(buf);
}

static void set_defaults(wm__config *c) {
    memset(c, 0, sizeof *c);
    c->mode = WM__MODE_SIDECAR;
    c->sidecar_url = strdup("http://127.0.0.1:17000");
    c->sidecar_timeout_s = 5.0;
    c->sidecar_retries = 3;
    c->sidecar_gzip = false;
    c->app_name = program_name();
    c->app_version = strdup("unknown");
    c->site_id = strdup("default");
    c->spool_enabled = true;
    c->spool_path = default_spool_path();
    c->spool_max_bytes = 512 * MB;
    c->queue_size = 10000;
    c->when_full = WM__WHEN_FULL_SPOOL;
    c->batch_size = 500;
    c->batch_max_bytes = 4 * MB;
    c->flush_interval_s = 0.2;
    c->exit_flush_timeout_s = 2.0;
    c->log_level = WM__LOG_WARN;
    c->sdk_lang = strdup("c");
    c->sdk_version = strdup(WAFERMON_VERSION_STRING);
}

void wm__config_free(wm__config *c) {
    if (!c)
        return;
    free(c->sidecar_url);
    free(c->sidecar_token);
    for (size_t i = 0; i < c->n_backends; i++) {
        free(c->backends[i].type);
        free(c->backends[i].path);
        free(c->backends[i].format);
    }
    free(c->app_name);
    free(c->app_version);
    free(c->site_id);
    free(c->spool_path);
    free(c->sdk_lang);
    free(c->sdk_version);
    memset(c, 0, sizeof *c);
}

/* ---- typed readers: each names "<source>: <key>" in its error -------------------------------- */

static wm_status want_string(const char *src, const char *key, json_t *v, size_t max_len,
                             bool non_empty, const char **out) {
    if (!json_is_string(v))
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be a string", src, key);
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (strlen(s) != len)
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" contains a NUL character", src, key);
    if (non_empty && len == 0)
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must not be empty", src, key);
    if (len > max_len)
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" is longer than %zu bytes", src, key, max_len);
    *out = s;
    return WM_OK;
}

static wm_status want_number(const char *src, const char *key, json_t *v, double min, double max,
                             double *out) {
    if (!json_is_number(v))
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be a number", src, key);
    double d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max)
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be between %g and %g, got %g", src, key, min,
                        max, d);
    *out = d;
    return WM_OK;
}

static wm_status want_int(const char *src, const char *key, json_t *v, long long min, long long max,
                          long long *out) {
    if (!json_is_integer(v))
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be an integer", src, key);
    long long i = json_integer_value(v);
    if (i < min || i > max)
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be between %lld and %lld, got %lld", src, key,
                        min, max, i);
    *out = i;
    return WM_OK;
}

static wm_status want_bool(const char *src, const char *key, json_t *v, bool *out) {
    if (!json_is_boolean(v))
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be true or false", src, key);
    *out = json_is_true(v);
    return WM_OK;
}

static wm_status want_object(const char *src, const char *key, json_t *v) {
    if (!json_is_object(v))
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be an object", src, key);
    return WM_OK;
}

static wm_status unknown_key(const char *src, const char *section, const char *key) {
    return wm__fail(WM_E_CONFIG, "%s: unknown key \"%s%s%s\"", src, section, section[0] ? "." : "",
                    key);
}

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        wm_status s_ = (expr);                                                                     \
        if (s_ != WM_OK)                                                                           \
            return s_;                                                                             \
    } while (0)

static wm_status url_check(const char *src, const char *key, const char *url) {
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must start with http:// or https://, got \"%s\"",
                        src, key, url);
    return WM_OK;
}

static wm_status apply_sidecar(const char *src, json_t *obj, wm__config *c) {
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        const char *s = NULL;
        double d = 0;
        long long i = 0;
        if (!strcmp(k, "url")) {
            TRY(want_string(src, "sidecar.url", v, 2048, true, &s));
            TRY(url_check(src, "sidecar.url", s));
            set_str(&c->sidecar_url, s);
        } else if (!strcmp(k, "timeout")) {
            TRY(want_number(src, "sidecar.timeout", v, 0.001, 3600, &d));
            c->sidecar_timeout_s = d;
        } else if (!strcmp(k, "retries")) {
            TRY(want_int(src, "sidecar.retries", v, 0, 100, &i));
            c->sidecar_retries = (int)i;
        } else if (!strcmp(k, "token")) {
            if (json_is_null(v)) {
                set_str(&c->sidecar_token, NULL);
                continue;
            }
            TRY(want_string(src, "sidecar.token", v, 4096, true, &s));
            set_str(&c->sidecar_token, s);
        } else if (!strcmp(k, "gzip")) {
            TRY(want_bool(src, "sidecar.gzip", v, &c->sidecar_gzip));
        } else {
            return unknown_key(src, "sidecar", k);
        }
    }
    return WM_OK;
}

static wm_status apply_backend(const char *src, size_t index, json_t *obj, wm__backend_config *b) {
    char key[64];
    const char *k;
    json_t *v;
    snprintf(key, sizeof key, "direct_backends[%zu]", index);
    TRY(want_object(src, key, obj));
    b->format = strdup("jsonl");
    b->max_file_bytes = 64 * MB;
    b->fsync = true;
    json_object_foreach(obj, k, v) {
        const char *s = NULL;
        double d = 0;
        snprintf(key, sizeof key, "direct_backends[%zu].%s", index, k);
        if (!strcmp(k, "type")) {
            TRY(want_string(src, key, v, 64, true, &s));
            if (strcmp(s, "filesystem") != 0)
                return wm__fail(WM_E_CONFIG,
                                "%s: \"%s\" must be \"filesystem\" (the only direct backend so "
                                "far), got \"%s\"",
                                src, key, s);
            set_str(&b->type, s);
        } else if (!strcmp(k, "path")) {
            TRY(want_string(src, key, v, PATH_MAX - 64, true, &s));
            set_str(&b->path, s);
        } else if (!strcmp(k, "format")) {
            TRY(want_string(src, key, v, 16, true, &s));
            if (strcmp(s, "jsonl") != 0)
                return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be \"jsonl\", got \"%s\"", src, key,
                                s);
            set_str(&b->format, s);
        } else if (!strcmp(k, "max_file_mb")) {
            TRY(want_number(src, key, v, 0.001, 1024 * 1024, &d));
            b->max_file_bytes = (uint64_t)(d * (double)MB);
        } else if (!strcmp(k, "fsync")) {
            TRY(want_bool(src, key, v, &b->fsync));
        } else if (!strcmp(k, "name")) {
            TRY(want_string(src, key, v, 128, true,
                            &s)); /* accepted for the seeds' configs; unused */
        } else {
            return wm__fail(WM_E_CONFIG, "%s: unknown key \"%s\"", src, key);
        }
    }
    if (!b->type)
        return wm__fail(WM_E_CONFIG, "%s: \"direct_backends[%zu].type\" is required", src, index);
    if (!b->path)
        return wm__fail(WM_E_CONFIG, "%s: \"direct_backends[%zu].path\" is required", src, index);
    return WM_OK;
}

static wm_status apply_backends(const char *src, json_t *arr, wm__config *c) {
    if (!json_is_array(arr))
        return wm__fail(WM_E_CONFIG, "%s: \"direct_backends\" must be an array", src);
    if (json_array_size(arr) > WM__MAX_BACKENDS)
        return wm__fail(WM_E_CONFIG,
                        "%s: \"direct_backends\" has %zu entries, at most %d are supported", src,
                        json_array_size(arr), WM__MAX_BACKENDS);
    for (size_t i = 0; i < c->n_backends; i++) {
        free(c->backends[i].type);
        free(c->backends[i].path);
        free(c->backends[i].format);
    }
    memset(c->backends, 0, sizeof c->backends);
    c->n_backends = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        c->n_backends = i + 1; /* so a failure half-way still frees what was set */
        TRY(apply_backend(src, i, json_array_get(arr, i), &c->backends[i]));
    }
    return WM_OK;
}

static wm_status apply_app(const char *src, json_t *obj, wm__config *c) {
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        const char *s = NULL;
        if (!strcmp(k, "name")) {
            TRY(want_string(src, "app.name", v, 128, true, &s));
            set_str(&c->app_name, s);
        } else if (!strcmp(k, "version")) {
            TRY(want_string(src, "app.version", v, 128, false, &s));
            set_str(&c->app_version, s);
        } else if (!strcmp(k, "site_id")) {
            TRY(want_string(src, "app.site_id", v, 128, true, &s));
            set_str(&c->site_id, s);
        } else {
            return unknown_key(src, "app", k);
        }
    }
    return WM_OK;
}

static wm_status apply_spool(const char *src, json_t *obj, wm__config *c) {
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        const char *s = NULL;
        double d = 0;
        if (!strcmp(k, "enabled")) {
            TRY(want_bool(src, "spool.enabled", v, &c->spool_enabled));
        } else if (!strcmp(k, "path")) {
            TRY(want_string(src, "spool.path", v, PATH_MAX - 128, true, &s));
            set_str(&c->spool_path, s);
        } else if (!strcmp(k, "max_size_mb")) {
            TRY(want_number(src, "spool.max_size_mb", v, 1, 1024.0 * 1024.0, &d));
            c->spool_max_bytes = (uint64_t)(d * (double)MB);
        } else {
            return unknown_key(src, "spool", k);
        }
    }
    return WM_OK;
}

static wm_status apply_queue(const char *src, json_t *obj, wm__config *c) {
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        const char *s = NULL;
        long long i = 0;
        if (!strcmp(k, "size")) {
            TRY(want_int(src, "queue.size", v, 1, 10 * 1000 * 1000, &i));
            c->queue_size = (size_t)i;
        } else if (!strcmp(k, "when_full")) {
            TRY(want_string(src, "queue.when_full", v, 16, true, &s));
            if (!strcmp(s, "spool"))
                c->when_full = WM__WHEN_FULL_SPOOL;
            else if (!strcmp(s, "drop"))
                c->when_full = WM__WHEN_FULL_DROP;
            else
                return wm__fail(WM_E_CONFIG,
                                "%s: \"queue.when_full\" must be \"spool\" or \"drop\", got \"%s\"",
                                src, s);
        } else {
            return unknown_key(src, "queue", k);
        }
    }
    return WM_OK;
}

static wm_status apply_sdk(const char *src, json_t *obj, wm__config *c) {
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        const char *s = NULL;
        if (!strcmp(k, "lang")) {
            TRY(want_string(src, "sdk.lang", v, 16, true, &s));
            if (strcmp(s, "c") && strcmp(s, "python") && strcmp(s, "java") && strcmp(s, "r") &&
                strcmp(s, "perl"))
                return wm__fail(
                    WM_E_CONFIG,
                    "%s: \"sdk.lang\" must be one of c, python, java, r, perl; got \"%s\"", src, s);
            set_str(&c->sdk_lang, s);
        } else if (!strcmp(k, "version")) {
            TRY(want_string(src, "sdk.version", v, 64, true, &s));
            set_str(&c->sdk_version, s);
        } else {
            return unknown_key(src, "sdk", k);
        }
    }
    return WM_OK;
}

static wm_status parse_log_level(const char *src, const char *key, const char *s,
                                 wm__log_level *out) {
    static const char *names[] = {"off", "error", "warn", "info", "debug"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i])) {
            *out = (wm__log_level)i;
            return WM_OK;
        }
    return wm__fail(WM_E_CONFIG,
                    "%s: \"%s\" must be one of off, error, warn, info, debug; got \"%s\"", src, key,
                    s);
}

static wm_status apply_object(const char *src, json_t *root, wm__config *c) {
    if (!json_is_object(root))
        return wm__fail(WM_E_CONFIG, "%s: the configuration must be a JSON object", src);
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        const char *s = NULL;
        double d = 0;
        long long i = 0;
        if (!strcmp(k, "mode")) {
            TRY(want_string(src, "mode", v, 16, true, &s));
            if (!strcmp(s, "sidecar"))
                c->mode = WM__MODE_SIDECAR;
            else if (!strcmp(s, "direct"))
                c->mode = WM__MODE_DIRECT;
            else
                return wm__fail(WM_E_CONFIG,
                                "%s: \"mode\" must be \"sidecar\" or \"direct\", got \"%s\"", src,
                                s);
        } else if (!strcmp(k, "sidecar")) {
            TRY(want_object(src, k, v));
            TRY(apply_sidecar(src, v, c));
        } else if (!strcmp(k, "direct_backends")) {
            TRY(apply_backends(src, v, c));
        } else if (!strcmp(k, "app")) {
            TRY(want_object(src, k, v));
            TRY(apply_app(src, v, c));
        } else if (!strcmp(k, "spool")) {
            TRY(want_object(src, k, v));
            TRY(apply_spool(src, v, c));
        } else if (!strcmp(k, "queue")) {
            TRY(want_object(src, k, v));
            TRY(apply_queue(src, v, c));
        } else if (!strcmp(k, "sdk")) {
            TRY(want_object(src, k, v));
            TRY(apply_sdk(src, v, c));
        } else if (!strcmp(k, "batch_size")) {
            if (json_is_integer(v) && json_integer_value(v) > WM__BATCH_SIZE_MAX)
                return wm__fail(WM_E_CONFIG,
                                "%s: \"batch_size\" must be at most %d (the most events the "
                                "sidecar takes in one request), got %lld",
                                src, WM__BATCH_SIZE_MAX, (long long)json_integer_value(v));
            TRY(want_int(src, k, v, 1, WM__BATCH_SIZE_MAX, &i));
            c->batch_size = (size_t)i;
        } else if (!strcmp(k, "batch_max_bytes")) {
            TRY(want_int(src, k, v, WM__BATCH_BYTES_MIN, WM__BATCH_BYTES_MAX, &i));
            c->batch_max_bytes = (size_t)i;
        } else if (!strcmp(k, "flush_interval")) {
            TRY(want_number(src, k, v, 0.001, 3600, &d));
            c->flush_interval_s = d;
        } else if (!strcmp(k, "exit_flush_timeout")) {
            TRY(want_number(src, k, v, 0, 3600, &d));
            c->exit_flush_timeout_s = d;
        } else if (!strcmp(k, "log_level")) {
            TRY(want_string(src, k, v, 16, true, &s));
            TRY(parse_log_level(src, k, s, &c->log_level));
        } else {
            return unknown_key(src, "", k);
        }
    }
    return WM_OK;
}

static wm_status parse_text(const char *src, const char *text, json_t **out) {
    json_error_t err;
    if (!wm__utf8_valid(text, strlen(text)))
        return wm__fail(WM_E_CONFIG, "%s: not valid UTF-8", src);
    *out = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!*out)
        return wm__fail(WM_E_CONFIG, "%s: invalid JSON at line %d column %d: %s", src, err.line,
                        err.column, err.text);
    return WM_OK;
}

static wm_status apply_text(const char *src, const char *text, wm__config *c) {
    json_t *root;
    TRY(parse_text(src, text, &root));
    wm_status st = apply_object(src, root, c);
    json_decref(root);
    return st;
}

static wm_status apply_config_variable(wm__config *c) {
    const char *value = getenv("WAFERMON_CONFIG");
    if (!value || !value[0])
        return WM_OK;
    const char *p = value;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (*p == '{')
        return apply_text("WAFERMON_CONFIG", value, c);
    char src[PATH_MAX + 32];
    snprintf(src, sizeof src, "WAFERMON_CONFIG file %s", value);
    json_error_t err;
    json_t *root = json_load_file(value, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        if (access(value, R_OK) != 0)
            return wm__fail(WM_E_CONFIG, "%s: cannot read: %s", src, strerror(errno));
        return wm__fail(WM_E_CONFIG, "%s: invalid JSON at line %d column %d: %s", src, err.line,
                        err.column, err.text);
    }
    wm_status st = apply_object(src, root, c);
    json_decref(root);
    return st;
}

/* ---- environment variables: each maps onto one key of the schema ----------------------------- */

typedef enum { ENV_STRING, ENV_NUMBER, ENV_INT, ENV_BOOL } env_kind;

typedef struct env_var {
    const char *name;
    const char *section; /* NULL for top level */
    const char *key;
    env_kind kind;
} env_var;

static const env_var env_vars[] = {
    {"WAFERMON_MODE", NULL, "mode", ENV_STRING},
    {"WAFERMON_SIDECAR_URL", "sidecar", "url", ENV_STRING},
    {"WAFERMON_SIDECAR_TIMEOUT", "sidecar", "timeout", ENV_NUMBER},
    {"WAFERMON_SIDECAR_RETRIES", "sidecar", "retries", ENV_INT},
    {"WAFERMON_SIDECAR_TOKEN", "sidecar", "token", ENV_STRING},
    {"WAFERMON_SIDECAR_GZIP", "sidecar", "gzip", ENV_BOOL},
    {"WAFERMON_APP_NAME", "app", "name", ENV_STRING},
    {"WAFERMON_APP_VERSION", "app", "version", ENV_STRING},
    {"WAFERMON_SITE_ID", "app", "site_id", ENV_STRING},
    {"WAFERMON_SPOOL_ENABLED", "spool", "enabled", ENV_BOOL},
    {"WAFERMON_SPOOL_DIR", "spool", "path", ENV_STRING},
    {"WAFERMON_SPOOL_MAX_MB", "spool", "max_size_mb", ENV_NUMBER},
    {"WAFERMON_QUEUE_SIZE", "queue", "size", ENV_INT},
    {"WAFERMON_QUEUE_WHEN_FULL", "queue", "when_full", ENV_STRING},
    {"WAFERMON_BATCH_SIZE", NULL, "batch_size", ENV_INT},
    {"WAFERMON_BATCH_MAX_BYTES", NULL, "batch_max_bytes", ENV_INT},
    {"WAFERMON_FLUSH_INTERVAL", NULL, "flush_interval", ENV_NUMBER},
    {"WAFERMON_EXIT_FLUSH_TIMEOUT", NULL, "exit_flush_timeout", ENV_NUMBER},
    {"WAFERMON_LOG_LEVEL", NULL, "log_level", ENV_STRING},
};

static json_t *env_value(const env_var *e, const char *text) {
    char *end;
    switch (e->kind) {
    case ENV_STRING:
        return json_string(text);
    case ENV_NUMBER: {
        errno = 0;
        double d = strtod(text, &end);
        if (errno || end == text || *end)
            return NULL;
        return json_real(d);
    }
    case ENV_INT: {
        errno = 0;
        long long i = strtoll(text, &end, 10);
        if (errno || end == text || *end)
            return NULL;
        return json_integer(i);
    }
    case ENV_BOOL:
        if (!strcmp(text, "1") || !strcasecmp(text, "true") || !strcasecmp(text, "yes") ||
            !strcasecmp(text, "on"))
            return json_true();
        if (!strcmp(text, "0") || !strcasecmp(text, "false") || !strcasecmp(text, "no") ||
            !strcasecmp(text, "off"))
            return json_false();
        return NULL;
    }
    return NULL;
}

static wm_status apply_environment(wm__config *c) {
    for (size_t i = 0; i < sizeof env_vars / sizeof env_vars[0]; i++) {
        const env_var *e = &env_vars[i];
        const char *text = getenv(e->name);
        if (!text || !text[0])
            continue;
        static const char *kinds[] = {"a string", "a number", "an integer", "true/false/1/0"};
        json_t *value = env_value(e, text);
        if (!value)
            return wm__fail(WM_E_CONFIG, "%s: must be %s, got \"%s\"", e->name, kinds[e->kind],
                            text);
        json_t *root = json_object();
        if (e->section) {
            json_t *inner = json_object();
            json_object_set_new(inner, e->key, value);
            json_object_set_new(root, e->section, inner);
        } else {
            json_object_set_new(root, e->key, value);
        }
        wm_status st = apply_object(e->name, root, c);
        json_decref(root);
        if (st != WM_OK)
            return st;
    }
    /* The file backend as one variable, for shell scripts: WAFERMON_FILESYSTEM_PATH=/dir. */
    const char *fs = getenv("WAFERMON_FILESYSTEM_PATH");
    if (fs && fs[0]) {
        json_t *root =
            json_pack("{s:[{s:s,s:s}]}", "direct_backends", "type", "filesystem", "path", fs);
        wm_status st = apply_object("WAFERMON_FILESYSTEM_PATH", root, c);
        json_decref(root);
        if (st != WM_OK)
            return st;
    }
    return WM_OK;
}

static wm_status check_consistency(const wm__config *c) {
    if (c->mode == WM__MODE_DIRECT && c->n_backends == 0)
        return wm__fail(WM_E_CONFIG,
                        "mode \"direct\" needs at least one entry in \"direct_backends\"");
    return WM_OK;
}

wm_status wm__config_load(const char *config_json, wm__config *out) {
    set_defaults(out);
    wm_status st = apply_config_variable(out);
    if (st == WM_OK)
        st = apply_environment(out);
    if (st == WM_OK && config_json)
        st = apply_text("config", config_json, out);
    if (st == WM_OK)
        st = check_consistency(out);
    if (st != WM_OK)
        wm__config_free(out);
    return st;
}
