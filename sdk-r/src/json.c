/* R values -> JSON text, for metadata and configuration.
 *
 * named list -> object (every element needs a unique, non-empty name); unnamed list -> array;
 * atomic vector of length 1 -> scalar, other lengths (or class "AsIs") -> array; NULL and NA ->
 * null; logical -> true/false; integer/double -> number (NaN and +-Inf are refused); character and
 * factor -> string (UTF-8). Anything else (functions, environments, complex, raw, S4, Date, ...)
 * is refused with a MetadataError (ConfigError for configuration) naming the key. */
#define R_NO_REMAP
#include <R.h>
#include <Rinternals.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wafermon.h>

#include "wafermon_r.h"

#define MAX_DEPTH 64

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
    char err[512];
} jbuf;

static int put(jbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            snprintf(b->err, sizeof b->err, "out of memory");
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}
static int puts_(jbuf *b, const char *s) { return put(b, s, strlen(s)); }

static int fail(jbuf *b, const char *path, const char *what) {
    b->failed = 1;
    if (path[0])
        snprintf(b->err, sizeof b->err, "value at \"%s\" %s", path, what);
    else
        snprintf(b->err, sizeof b->err, "the value %s", what);
    return -1;
}

static int put_string(jbuf *b, const char *s) {
    if (put(b, "\"", 1))
        return -1;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': if (put(b, "\\\"", 2)) return -1; break;
        case '\\': if (put(b, "\\\\", 2)) return -1; break;
        case '\n': if (put(b, "\\n", 2)) return -1; break;
        case '\r': if (put(b, "\\r", 2)) return -1; break;
        case '\t': if (put(b, "\\t", 2)) return -1; break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *c);
                if (puts_(b, esc))
                    return -1;
            } else if (put(b, (const char *)c, 1)) {
                return -1;
            }
        }
    }
    return put(b, "\"", 1);
}

static int put_double(jbuf *b, double v, const char *path) {
    if (ISNA(v))
        return puts_(b, "null");
    if (!isfinite(v))
        return fail(b, path, "is NaN or infinite, which JSON cannot hold");
    char num[40];
    snprintf(num, sizeof num, "%.15g", v);
    if (strtod(num, NULL) != v)
        snprintf(num, sizeof num, "%.17g", v);
    return puts_(b, num);
}

static void child_path(char *out, size_t n, const char *path, const char *key, R_xlen_t index) {
    if (key)
        snprintf(out, n, "%s%s%s", path, path[0] ? "." : "", key);
    else
        snprintf(out, n, "%s[%ld]", path, (long)index + 1);
}

static int has_class(SEXP x, const char *cls) { return Rf_inherits(x, cls); }

static int put_value(jbuf *b, SEXP x, const char *path, int depth);

static int put_atomic_elt(jbuf *b, SEXP x, R_xlen_t i, const char *path) {
    switch (TYPEOF(x)) {
    case LGLSXP: {
        int v = LOGICAL(x)[i];
        return puts_(b, v == NA_LOGICAL ? "null" : v ? "true" : "false");
    }
    case INTSXP: {
        int v = INTEGER(x)[i];
        if (v == NA_INTEGER)
            return puts_(b, "null");
        if (Rf_isFactor(x)) {
            SEXP lv = Rf_getAttrib(x, R_LevelsSymbol);
            if (v < 1 || v > XLENGTH(lv))
                return fail(b, path, "is a factor code without a level");
            return put_string(b, Rf_translateCharUTF8(STRING_ELT(lv, v - 1)));
        }
        char num[24];
        snprintf(num, sizeof num, "%d", v);
        return puts_(b, num);
    }
    case REALSXP:
        return put_double(b, REAL(x)[i], path);
    case STRSXP: {
        SEXP s = STRING_ELT(x, i);
        if (s == NA_STRING)
            return puts_(b, "null");
        return put_string(b, Rf_translateCharUTF8(s));
    }
    default:
        return fail(b, path, "cannot be serialised to JSON");
    }
}

static const char *type_label(SEXP x) {
    if (Rf_isFunction(x))
        return "is a function, which cannot be serialised to JSON";
    switch (TYPEOF(x)) {
    case ENVSXP: return "is an environment, which cannot be serialised to JSON";
    case EXTPTRSXP: return "is an external pointer, which cannot be serialised to JSON";
    case CPLXSXP: return "is a complex number, which cannot be serialised to JSON";
    case RAWSXP: return "is a raw vector, which cannot be serialised to JSON";
    case SYMSXP: case LANGSXP: return "is a language object, which cannot be serialised to JSON";
    case S4SXP: return "is an S4 object, which cannot be serialised to JSON";
    default: return "cannot be serialised to JSON";
    }
}

static int put_value(jbuf *b, SEXP x, const char *path, int depth) {
    if (depth > MAX_DEPTH)
        return fail(b, path, "is nested more than 64 levels deep");
    char sub[512];
    switch (TYPEOF(x)) {
    case NILSXP:
        return puts_(b, "null");
    case LGLSXP:
    case INTSXP:
    case REALSXP:
    case STRSXP: {
        SEXP klass = Rf_getAttrib(x, R_ClassSymbol);
        if (!Rf_isNull(klass) && !Rf_isFactor(x) && !has_class(x, "AsIs")) {
            char what[256];
            snprintf(what, sizeof what,
                     "has class \"%s\", which is not serialised implicitly: convert it first "
                     "(e.g. format() or as.character())",
                     CHAR(STRING_ELT(klass, 0)));
            return fail(b, path, what);
        }
        R_xlen_t n = XLENGTH(x);
        if (n == 1 && !has_class(x, "AsIs"))
            return put_atomic_elt(b, x, 0, path);
        if (put(b, "[", 1))
            return -1;
        for (R_xlen_t i = 0; i < n; i++) {
            if (i && put(b, ",", 1))
                return -1;
            child_path(sub, sizeof sub, path, NULL, i);
            if (put_atomic_elt(b, x, i, sub))
                return -1;
        }
        return put(b, "]", 1);
    }
    case VECSXP: {
        if (OBJECT(x) && !has_class(x, "AsIs") && !Rf_inherits(x, "list")) {
            SEXP klass = Rf_getAttrib(x, R_ClassSymbol);
            char what[256];
            snprintf(what, sizeof what,
                     "has class \"%s\", which is not serialised implicitly: convert it to a "
                     "plain list first",
                     CHAR(STRING_ELT(klass, 0)));
            return fail(b, path, what);
        }
        R_xlen_t n = XLENGTH(x);
        SEXP names = Rf_getAttrib(x, R_NamesSymbol);
        if (Rf_isNull(names)) {
            if (put(b, "[", 1))
                return -1;
            for (R_xlen_t i = 0; i < n; i++) {
                if (i && put(b, ",", 1))
                    return -1;
                child_path(sub, sizeof sub, path, NULL, i);
                if (put_value(b, VECTOR_ELT(x, i), sub, depth + 1))
                    return -1;
            }
            return put(b, "]", 1);
        }
        if (put(b, "{", 1))
            return -1;
        for (R_xlen_t i = 0; i < n; i++) {
            SEXP nm = STRING_ELT(names, i);
            if (nm == NA_STRING || CHAR(nm)[0] == '\0') {
                char what[128];
                snprintf(what, sizeof what, "has an element without a name (position %ld)",
                         (long)i + 1);
                return fail(b, path, what);
            }
            const char *key = Rf_translateCharUTF8(nm);
            for (R_xlen_t k = 0; k < i; k++)
                if (Rf_NonNullStringMatch(STRING_ELT(names, k), nm)) {
                    char what[300];
                    snprintf(what, sizeof what, "has the name \"%s\" twice", key);
                    return fail(b, path, what);
                }
            if (i && put(b, ",", 1))
                return -1;
            if (put_string(b, key) || put(b, ":", 1))
                return -1;
            child_path(sub, sizeof sub, path, key, 0);
            if (put_value(b, VECTOR_ELT(x, i), sub, depth + 1))
                return -1;
        }
        return put(b, "}", 1);
    }
    default:
        return fail(b, path, type_label(x));
    }
}

/* to_json(x, what): what = "metadata" (must be an object; NULL -> NULL; list() -> "{}") or
 * "config" (same, errors are ConfigError) or "value" (anything serialisable). */
SEXP wmr_to_json(SEXP x, SEXP what_) {
    const char *what = CHAR(STRING_ELT(what_, 0));
    int is_value = !strcmp(what, "value");
    int code = !strcmp(what, "config") ? WM_E_CONFIG : WM_E_METADATA;
    if (!is_value) {
        if (Rf_isNull(x))
            return R_NilValue;
        int empty_list = TYPEOF(x) == VECSXP && XLENGTH(x) == 0;
        int named_list = TYPEOF(x) == VECSXP && !Rf_isNull(Rf_getAttrib(x, R_NamesSymbol));
        if (empty_list)
            return Rf_mkString("{}");
        if (!named_list) {
            char m[256];
            snprintf(m, sizeof m,
                     "%s must be a JSON object: a named list such as list(step = \"etch\"), got "
                     "%s",
                     what, TYPEOF(x) == VECSXP ? "an unnamed list" : Rf_type2char(TYPEOF(x)));
            wmr_throw(code, m);
        }
    }
    jbuf b = {0};
    put_value(&b, x, "", 0);
    if (b.failed) {
        char m[640];
        snprintf(m, sizeof m, "%s: %s", what, b.err);
        free(b.p);
        wmr_throw(code, m);
    }
    SEXP out = PROTECT(Rf_allocVector(STRSXP, 1));
    SET_STRING_ELT(out, 0, Rf_mkCharLenCE(b.p ? b.p : "", (int)b.len, CE_UTF8));
    free(b.p);
    UNPROTECT(1);
    return out;
}
