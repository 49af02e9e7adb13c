/* Configuration: built-in defaults, then WAFERMON_CONFIG (file or inline JSON), then WAFERMON_*
 * variables, then the caller's JSON. Every key is one row of wm__config_keys[] (config_keys.c):
 * these functions read, check and layer any row alike; an error names the key and its source.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "status.h"
#include "utf8.h"

#define MB (1024.0 * 1024.0)

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        wm_status s_ = (expr);                                                                     \
        if (s_ != WM_OK)                                                                           \
            return s_;                                                                             \
    } while (0)

static void *field(void *base, const wm__config_key *k) {
    return (char *)base + k->offset;
}

static void set_str(char **slot, const char *value) {
    free(*slot);
    *slot = value ? strdup(value) : NULL;
}

static const wm__config_key *find_key(const wm__config_key *keys, size_t n, const char *name,
                                      size_t name_len) {
    for (size_t i = 0; i < n; i++)
        if (strlen(keys[i].name) == name_len && !strncmp(keys[i].name, name, name_len))
            return &keys[i];
    return NULL;
}

/* True when some key is "<section>.<...>". */
static bool is_section(const char *section) {
    size_t len = strlen(section);
    for (size_t i = 0; i < wm__config_n_keys; i++)
        if (!strncmp(wm__config_keys[i].name, section, len) && wm__config_keys[i].name[len] == '.')
            return true;
    return false;
}

/* The position of value in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *value) {
    size_t len = strlen(value);
    int index = 0;
    for (const char *p = choices;; index++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !strncmp(p, value, n))
            return index;
        if (!bar)
            return -1;
        p = bar + 1;
    }
}

/* "must be "a" (why)", "must be "a" or "b"", or "must be one of a, b, c;" as the error says it. */
static wm_status bad_choice(const char *src, const char *key, const wm__config_key *k,
                            const char *got) {
    char list[256] = "";
    size_t n_choices = 1;
    for (const char *p = k->choices; *p; p++)
        n_choices += *p == '|';
    if (n_choices <= 2) {
        const char *bar = strchr(k->choices, '|');
        if (bar)
            snprintf(list, sizeof list, "\"%.*s\" or \"%s\",", (int)(bar - k->choices), k->choices,
                     bar + 1);
        else
            snprintf(list, sizeof list, "\"%s\"%s%s%s,", k->choices, k->why ? " (" : "",
                     k->why ? k->why : "", k->why ? ")" : "");
    } else {
        size_t at = (size_t)snprintf(list, sizeof list, "one of ");
        for (const char *p = k->choices; *p && at + 3 < sizeof list; p++) {
            if (*p == '|') {
                list[at++] = ',';
                list[at++] = ' ';
            } else {
                list[at++] = *p;
            }
        }
        list[at++] = ';';
        list[at] = '\0';
    }
    return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be %s got \"%s\"", src, key, list, got);
}

/* ---- one value of one key: each error names "<source>: <key>" -------------------------------- */

static wm_status want_string(const char *src, const char *key, const wm__config_key *k, json_t *v,
                             const char **out) {
    if (!json_is_string(v))
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be a string", src, key);
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (strlen(s) != len)
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" contains a NUL character", src, key);
    if (k->min >= 1 && len == 0)
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must not be empty", src, key);
    if (k->type == WM__KEY_STRING && (double)len > k->max) /* a choice is bounded by its values */
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" is longer than %zu bytes", src, key,
                        (size_t)k->max);
    if (k->choices && choice_index(k->choices, s) < 0)
        return bad_choice(src, key, k, s);
    if ((k->flags & WM__KEY_HTTP_URL) && strncmp(s, "http://", 7) != 0 &&
        strncmp(s, "https://", 8) != 0)
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must start with http:// or https://, got \"%s\"",
                        src, key, s);
    *out = s;
    return WM_OK;
}

static wm_status want_number(const char *src, const char *key, const wm__config_key *k, json_t *v,
                             double *out) {
    if (!json_is_number(v))
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be a number", src, key);
    double d = json_number_value(v);
    if (!isfinite(d) || d < k->min || d > k->max)
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be between %g and %g, got %g", src, key,
                        k->min, k->max, d);
    *out = d;
    return WM_OK;
}

static wm_status want_int(const char *src, const char *key, const wm__config_key *k, json_t *v,
                          long long *out) {
    if (!json_is_integer(v))
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be an integer", src, key);
    long long i = json_integer_value(v), min = (long long)k->min, max = (long long)k->max;
    if (i > max && k->why)
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be at most %lld (%s), got %lld", src, key,
                        max, k->why, i);
    if (i < min || i > max)
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be between %lld and %lld, got %lld", src, key,
                        min, max, i);
    *out = i;
    return WM_OK;
}

/* Checks v against row k and stores it into base (a wm__config or a wm__backend_config). */
static wm_status apply_key(const char *src, const char *key, const wm__config_key *k, json_t *v,
                           void *base) {
    const char *s = NULL;
    double d = 0;
    long long i = 0;
    if (json_is_null(v) && (k->flags & WM__KEY_NULLABLE)) {
        set_str(field(base, k), NULL);
        return WM_OK;
    }
    switch (k->type) {
    case WM__KEY_STRING:
        TRY(want_string(src, key, k, v, &s));
        set_str(field(base, k), s);
        return WM_OK;
    case WM__KEY_CHOICE:
        TRY(want_string(src, key, k, v, &s));
        *(int *)field(base, k) = choice_index(k->choices, s);
        return WM_OK;
    case WM__KEY_BOOL:
        if (!json_is_boolean(v))
            return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be true or false", src, key);
        *(bool *)field(base, k) = json_is_true(v);
        return WM_OK;
    case WM__KEY_INT:
    case WM__KEY_SIZE:
        TRY(want_int(src, key, k, v, &i));
        if (k->type == WM__KEY_INT)
            *(int *)field(base, k) = (int)i;
        else
            *(size_t *)field(base, k) = (size_t)i;
        return WM_OK;
    case WM__KEY_NUMBER:
    case WM__KEY_MEGABYTES:
        TRY(want_number(src, key, k, v, &d));
        if (k->type == WM__KEY_NUMBER)
            *(double *)field(base, k) = d;
        else
            *(uint64_t *)field(base, k) = (uint64_t)(d * MB);
        return WM_OK;
    }
    return wm__fail(WM_E_INTERNAL, "%s: \"%s\" has no type", src, key);
}

/* A value written as a variable would be ("5", "true", "drop") as the JSON value of row k; NULL
 * when the text is not one. */
static json_t *value_from_text(const wm__config_key *k, const char *text) {
    char *end;
    switch (k->type) {
    case WM__KEY_STRING:
    case WM__KEY_CHOICE:
        return json_string(text);
    case WM__KEY_NUMBER:
    case WM__KEY_MEGABYTES: {
        errno = 0;
        double d = strtod(text, &end);
        return errno || end == text || *end ? NULL : json_real(d);
    }
    case WM__KEY_INT:
    case WM__KEY_SIZE: {
        errno = 0;
        long long i = strtoll(text, &end, 10);
        return errno || end == text || *end ? NULL : json_integer(i);
    }
    case WM__KEY_BOOL:
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

static const char *text_kind(const wm__config_key *k) {
    switch (k->type) {
    case WM__KEY_NUMBER:
    case WM__KEY_MEGABYTES:
        return "a number";
    case WM__KEY_INT:
    case WM__KEY_SIZE:
        return "an integer";
    case WM__KEY_BOOL:
        return "true/false/1/0";
    default:
        return "a string";
    }
}

/* Row k from text (a variable, or the row's default); src names where the text came from. */
static wm_status apply_text_value(const char *src, const wm__config_key *k, const char *key,
                                  const char *text, void *base) {
    json_t *value = value_from_text(k, text);
    if (!value)
        return wm__fail(WM_E_CONFIG, "%s: must be %s, got \"%s\"", src, text_kind(k), text);
    wm_status st = apply_key(src, key, k, value, base);
    json_decref(value);
    return st;
}

static wm_status apply_defaults(const wm__config_key *keys, size_t n, void *base) {
    for (size_t i = 0; i < n; i++) {
        const wm__config_key *k = &keys[i];
        if (k->computed_default) {
            char **slot = field(base, k);
            free(*slot);
            *slot = k->computed_default();
        } else if (k->def) {
            TRY(apply_text_value("default", k, k->name, k->def, base));
        }
    }
    return WM_OK;
}

static void free_strings(const wm__config_key *keys, size_t n, void *base) {
    for (size_t i = 0; i < n; i++)
        if (keys[i].type == WM__KEY_STRING)
            set_str(field(base, &keys[i]), NULL);
}

void wm__config_free(wm__config *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->n_backends; i++)
        free_strings(wm__backend_keys, wm__backend_n_keys, &c->backends[i]);
    free_strings(wm__config_keys, wm__config_n_keys, c);
    memset(c, 0, sizeof *c);
}

static wm_status unknown_key(const char *src, const char *section, const char *key) {
    return wm__fail(WM_E_CONFIG, "%s: unknown key \"%s%s%s\"", src, section, section[0] ? "." : "",
                    key);
}

/* ---- direct_backends[]: each entry is read with wm__backend_keys[] --------------------------- */

static wm_status apply_backend(const char *src, size_t index, json_t *obj, wm__backend_config *b) {
    char key[192];
    const char *name;
    json_t *v;
    snprintf(key, sizeof key, "direct_backends[%zu]", index);
    if (!json_is_object(obj))
        return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be an object", src, key);
    TRY(apply_defaults(wm__backend_keys, wm__backend_n_keys, b));
    json_object_foreach(obj, name, v) {
        snprintf(key, sizeof key, "direct_backends[%zu].%s", index, name);
        const wm__config_key *k =
            find_key(wm__backend_keys, wm__backend_n_keys, name, strlen(name));
        if (!k)
            return wm__fail(WM_E_CONFIG, "%s: unknown key \"%s\"", src, key);
        TRY(apply_key(src, key, k, v, b));
    }
    for (size_t i = 0; i < wm__backend_n_keys; i++) {
        const wm__config_key *k = &wm__backend_keys[i];
        if ((k->flags & WM__KEY_REQUIRED) && !*(char **)field(b, k))
            return wm__fail(WM_E_CONFIG, "%s: \"direct_backends[%zu].%s\" is required", src, index,
                            k->name);
    }
    return WM_OK;
}

static wm_status apply_backends(const char *src, json_t *arr, wm__config *c) {
    if (!json_is_array(arr))
        return wm__fail(WM_E_CONFIG, "%s: \"direct_backends\" must be an array", src);
    if (json_array_size(arr) > WM__MAX_BACKENDS)
        return wm__fail(WM_E_CONFIG,
                        "%s: \"direct_backends\" has %zu entries, at most %d are supported", src,
                        json_array_size(arr), WM__MAX_BACKENDS);
    for (size_t i = 0; i < c->n_backends; i++)
        free_strings(wm__backend_keys, wm__backend_n_keys, &c->backends[i]);
    memset(c->backends, 0, sizeof c->backends);
    c->n_backends = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        c->n_backends = i + 1; /* so a failure half-way still frees what was set */
        TRY(apply_backend(src, i, json_array_get(arr, i), &c->backends[i]));
        for (size_t j = 0; j < i; j++)
            if (c->backends[i].name && c->backends[j].name &&
                !strcmp(c->backends[i].name, c->backends[j].name))
                return wm__fail(WM_E_CONFIG,
                                "%s: \"direct_backends[%zu].name\" \"%s\" is already the name of "
                                "direct_backends[%zu]: names must be unique",
                                src, i, c->backends[i].name, j);
    }
    return WM_OK;
}

/* ---- a whole JSON object: top-level keys, sections, direct_backends -------------------------- */

static wm_status apply_object(const char *src, json_t *root, wm__config *c) {
    if (!json_is_object(root))
        return wm__fail(WM_E_CONFIG, "%s: the configuration must be a JSON object", src);
    const char *name;
    json_t *v;
    json_object_foreach(root, name, v) {
        if (!strcmp(name, "direct_backends")) {
            TRY(apply_backends(src, v, c));
            continue;
        }
        const wm__config_key *k = find_key(wm__config_keys, wm__config_n_keys, name, strlen(name));
        if (k) {
            TRY(apply_key(src, k->name, k, v, c));
            continue;
        }
        if (!is_section(name))
            return unknown_key(src, "", name);
        if (!json_is_object(v))
            return wm__fail(WM_E_CONFIG, "%s: \"%s\" must be an object", src, name);
        const char *inner;
        json_t *iv;
        char full[256];
        json_object_foreach(v, inner, iv) {
            int len = snprintf(full, sizeof full, "%s.%s", name, inner);
            k = len > 0 ? find_key(wm__config_keys, wm__config_n_keys, full, (size_t)len) : NULL;
            if (!k)
                return unknown_key(src, name, inner);
            TRY(apply_key(src, k->name, k, iv, c));
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

/* ---- environment variables: the rows that name one ------------------------------------------- */

static wm_status apply_environment(wm__config *c) {
    for (size_t i = 0; i < wm__config_n_keys; i++) {
        const wm__config_key *k = &wm__config_keys[i];
        const char *text = k->env ? getenv(k->env) : NULL;
        if (text && text[0])
            TRY(apply_text_value(k->env, k, k->name, text, c));
    }
    /* The file backend as one variable, for shell scripts: WAFERMON_FILESYSTEM_PATH=/dir. */
    const char *fs = getenv(WM__FILESYSTEM_PATH_ENV);
    if (fs && fs[0]) {
        json_t *root =
            json_pack("{s:[{s:s,s:s}]}", "direct_backends", "type", "filesystem", "path", fs);
        wm_status st = apply_object(WM__FILESYSTEM_PATH_ENV, root, c);
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
    memset(out, 0, sizeof *out);
    wm_status st = apply_defaults(wm__config_keys, wm__config_n_keys, out);
    if (st == WM_OK)
        st = apply_config_variable(out);
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

/* ---- the effective value of one key ---------------------------------------------------------- */

static json_t *value_json(const wm__config_key *k, const void *base) {
    const void *p = (const char *)base + k->offset;
    switch (k->type) {
    case WM__KEY_STRING:
        return *(char *const *)p ? json_string(*(char *const *)p) : json_null();
    case WM__KEY_CHOICE: {
        int index = *(const int *)p;
        const char *at = k->choices;
        for (int i = 0; i < index && at; i++)
            at = strchr(at, '|') ? strchr(at, '|') + 1 : NULL;
        return at ? json_stringn(at, strcspn(at, "|")) : json_null();
    }
    case WM__KEY_BOOL:
        return json_boolean(*(const bool *)p);
    case WM__KEY_INT:
        return json_integer(*(const int *)p);
    case WM__KEY_SIZE:
        return json_integer((json_int_t) * (const size_t *)p);
    case WM__KEY_NUMBER:
        return json_real(*(const double *)p);
    case WM__KEY_MEGABYTES:
        return json_real((double)*(const uint64_t *)p / MB);
    }
    return json_null();
}

wm_status wm__config_value_json(const wm__config *c, const char *key, char **out) {
    const wm__config_key *k = NULL;
    const void *base = c;
    size_t index = 0;
    int used = 0;
    if (sscanf(key, "direct_backends[%zu].%n", &index, &used) == 1 && used > 0) {
        if (index >= c->n_backends)
            return wm__fail(WM_E_CONFIG, "\"%s\": there are %zu direct backends", key,
                            c->n_backends);
        k = find_key(wm__backend_keys, wm__backend_n_keys, key + used, strlen(key + used));
        base = &c->backends[index];
    } else {
        k = find_key(wm__config_keys, wm__config_n_keys, key, strlen(key));
    }
    if (!k)
        return wm__fail(WM_E_CONFIG, "unknown key \"%s\"", key);
    json_t *value = value_json(k, base);
    *out = value ? json_dumps(value, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(value);
    return *out ? WM_OK : wm__fail(WM_E_NOMEM, "out of memory");
}
