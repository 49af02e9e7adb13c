/* .Call glue between R and libwafermon: handles as external pointers, statuses as classed
 * conditions; R values become JSON in R/json.R (jsonlite). No core logic lives here. */
#define R_NO_REMAP
#include <R.h>
#include <Rinternals.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wafermon.h>

#include "wafermon_r.h"

/* ---- errors --------------------------------------------------------------------------------- */

static const wm_status_desc *find_desc(int code) {
    const wm_status_desc *descs;
    size_t n;
    wm_status_descs(&descs, &n);
    for (size_t i = 0; i < n; i++)
        if (descs[i].code == code)
            return &descs[i];
    return NULL;
}

/* Signals c("wafermon_<Exception>", "wafermon_error", "error", "condition") with fields message,
 * call, code, name (the exception name) and status (the C name). Does not return. Everything the
 * caller allocated must be released (or be R memory) before this is called. */
void wmr_throw(int code, const char *detail) {
    const wm_status_desc *d = find_desc(code);
    const char *exc = d ? d->exception : "InternalError";
    char msg[1536], cls[96];
    snprintf(msg, sizeof msg, "%s", detail && detail[0] ? detail : (d ? d->message : "error"));
    snprintf(cls, sizeof cls, "wafermon_%s", exc);

    SEXP cond = PROTECT(Rf_allocVector(VECSXP, 5));
    SEXP names = PROTECT(Rf_allocVector(STRSXP, 5));
    SET_VECTOR_ELT(cond, 0, Rf_mkString(msg));
    SET_STRING_ELT(names, 0, Rf_mkChar("message"));
    SET_VECTOR_ELT(cond, 1, R_NilValue);
    SET_STRING_ELT(names, 1, Rf_mkChar("call"));
    SET_VECTOR_ELT(cond, 2, Rf_ScalarInteger(code));
    SET_STRING_ELT(names, 2, Rf_mkChar("code"));
    SET_VECTOR_ELT(cond, 3, Rf_mkString(exc));
    SET_STRING_ELT(names, 3, Rf_mkChar("name"));
    SET_VECTOR_ELT(cond, 4, Rf_mkString(d ? d->name : "WM_E_UNKNOWN"));
    SET_STRING_ELT(names, 4, Rf_mkChar("status"));
    Rf_setAttrib(cond, R_NamesSymbol, names);
    SEXP klass = PROTECT(Rf_allocVector(STRSXP, 4));
    SET_STRING_ELT(klass, 0, Rf_mkChar(cls));
    SET_STRING_ELT(klass, 1, Rf_mkChar("wafermon_error"));
    SET_STRING_ELT(klass, 2, Rf_mkChar("error"));
    SET_STRING_ELT(klass, 3, Rf_mkChar("condition"));
    Rf_setAttrib(cond, R_ClassSymbol, klass);
    SEXP call = PROTECT(Rf_lang2(Rf_install("stop"), cond));
    Rf_eval(call, R_BaseEnv);
    UNPROTECT(4); /* not reached */
}

/* Throws the status with the core's per-thread detail. */
static void check(wm_status st) {
    if (st == WM_OK)
        return;
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", wm_last_error());
    wmr_throw((int)st, detail);
}

/* ---- argument helpers ----------------------------------------------------------------------- */

/* NULL or NA -> NULL; a length-1 character vector -> its UTF-8 text (R memory). */
static const char *opt_string(SEXP x, const char *what) {
    if (Rf_isNull(x))
        return NULL;
    if (!Rf_isString(x) || XLENGTH(x) != 1) {
        char m[256];
        snprintf(m, sizeof m, "%s must be a single string or NULL", what);
        wmr_throw(WM_E_INVALID_ARGUMENT, m);
    }
    if (STRING_ELT(x, 0) == NA_STRING)
        return NULL;
    return Rf_translateCharUTF8(STRING_ELT(x, 0));
}

static double num_arg(SEXP x, const char *what) {
    if (!(Rf_isReal(x) || Rf_isInteger(x) || Rf_isLogical(x)) || XLENGTH(x) != 1) {
        char m[256];
        snprintf(m, sizeof m, "%s must be a single number", what);
        wmr_throw(WM_E_INVALID_ARGUMENT, m);
    }
    if (Rf_isLogical(x) || Rf_isInteger(x)) {
        int v = Rf_isLogical(x) ? LOGICAL(x)[0] : INTEGER(x)[0];
        return v == NA_INTEGER ? NAN : (double)v;
    }
    return REAL(x)[0];
}

/* ---- handles -------------------------------------------------------------------------------- */

static SEXP sym_client, sym_job, cls_job;

static void client_finalizer(SEXP ptr) {
    wm_client *c = R_ExternalPtrAddr(ptr);
    if (!c)
        return;
    R_ClearExternalPtr(ptr);
    wm_client_close(c, -1); /* negative: the configured exit_flush_timeout */
}

static void job_finalizer(SEXP ptr) {
    wm_job *j = R_ExternalPtrAddr(ptr);
    if (!j)
        return;
    R_ClearExternalPtr(ptr);
    wm_job_destroy(j); /* cancels a job still running, see wafermon.h */
}

static void *get_handle(SEXP x, SEXP tag, const char *cls) {
    if (TYPEOF(x) != EXTPTRSXP || R_ExternalPtrTag(x) != tag) {
        char m[128];
        snprintf(m, sizeof m, "expected a %s handle", cls);
        wmr_throw(WM_E_INVALID_ARGUMENT, m);
    }
    void *p = R_ExternalPtrAddr(x);
    if (!p)
        wmr_throw(WM_E_CLOSED, "handle is closed");
    return p;
}

static wm_job *get_job(SEXP x) { return get_handle(x, sym_job, "wafermon_job"); }

static SEXP new_job_ptr(wm_job *job, SEXP keep) {
    SEXP ptr = PROTECT(R_MakeExternalPtr(job, sym_job, keep));
    R_RegisterCFinalizerEx(ptr, job_finalizer, FALSE);
    Rf_setAttrib(ptr, R_ClassSymbol, cls_job);
    UNPROTECT(1);
    return ptr;
}

/* metadata: NULL or a JSON text (character(1)) made by to_json(). */
static const char *meta_arg(SEXP m) { return opt_string(m, "metadata"); }

/* ---- entry points --------------------------------------------------------------------------- */

SEXP wmr_version(void) { return Rf_mkString(wm_version_string()); }

SEXP wmr_status_table(void) {
    const wm_status_desc *d;
    size_t n;
    wm_status_descs(&d, &n);
    SEXP out = PROTECT(Rf_allocVector(VECSXP, 4));
    SEXP code = PROTECT(Rf_allocVector(INTSXP, (R_xlen_t)n));
    SEXP name = PROTECT(Rf_allocVector(STRSXP, (R_xlen_t)n));
    SEXP exc = PROTECT(Rf_allocVector(STRSXP, (R_xlen_t)n));
    SEXP msg = PROTECT(Rf_allocVector(STRSXP, (R_xlen_t)n));
    for (size_t i = 0; i < n; i++) {
        INTEGER(code)[i] = d[i].code;
        SET_STRING_ELT(name, (R_xlen_t)i, Rf_mkChar(d[i].name));
        SET_STRING_ELT(exc, (R_xlen_t)i, Rf_mkChar(d[i].exception));
        SET_STRING_ELT(msg, (R_xlen_t)i, Rf_mkChar(d[i].message));
    }
    SET_VECTOR_ELT(out, 0, code);
    SET_VECTOR_ELT(out, 1, name);
    SET_VECTOR_ELT(out, 2, exc);
    SET_VECTOR_ELT(out, 3, msg);
    SEXP nm = PROTECT(Rf_allocVector(STRSXP, 4));
    SET_STRING_ELT(nm, 0, Rf_mkChar("code"));
    SET_STRING_ELT(nm, 1, Rf_mkChar("name"));
    SET_STRING_ELT(nm, 2, Rf_mkChar("exception"));
    SET_STRING_ELT(nm, 3, Rf_mkChar("message"));
    Rf_setAttrib(out, R_NamesSymbol, nm);
    UNPROTECT(6);
    return out;
}

SEXP wmr_client_open(SEXP config_json) {
    const char *cfg = opt_string(config_json, "config");
    wm_client *c = NULL;
    check(wm_client_open(cfg, &c));
    SEXP ptr = PROTECT(R_MakeExternalPtr(c, sym_client, R_NilValue));
    /* onexit = TRUE: R's exit flushes and closes the client (the core's atexit would too). */
    R_RegisterCFinalizerEx(ptr, client_finalizer, TRUE);
    UNPROTECT(1);
    return ptr;
}

SEXP wmr_client_close(SEXP ptr, SEXP timeout) {
    double t = num_arg(timeout, "timeout");
    if (TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrTag(ptr) != sym_client)
        wmr_throw(WM_E_INVALID_ARGUMENT, "expected a wafermon_client handle");
    wm_client *c = R_ExternalPtrAddr(ptr);
    if (!c)
        return R_NilValue;
    R_ClearExternalPtr(ptr);
    check(wm_client_close(c, t));
    return R_NilValue;
}

SEXP wmr_client_flush(SEXP ptr, SEXP timeout) {
    wm_client *c = get_handle(ptr, sym_client, "wafermon_client");
    check(wm_client_flush(c, num_arg(timeout, "timeout")));
    return R_NilValue;
}

SEXP wmr_client_stats(SEXP ptr) {
    wm_client *c = get_handle(ptr, sym_client, "wafermon_client");
    SEXP out = PROTECT(Rf_allocVector(REALSXP, WM_STAT__COUNT));
    SEXP nm = PROTECT(Rf_allocVector(STRSXP, WM_STAT__COUNT));
    for (int i = 0; i < WM_STAT__COUNT; i++) {
        REAL(out)[i] = (double)wm_client_stat(c, (wm_stat)i);
        SET_STRING_ELT(nm, i, Rf_mkChar(wm_stat_name((wm_stat)i)));
    }
    Rf_setAttrib(out, R_NamesSymbol, nm);
    UNPROTECT(2);
    return out;
}

SEXP wmr_job_start(SEXP client, SEXP business_key, SEXP site_id, SEXP metadata) {
    wm_client *c = get_handle(client, sym_client, "wafermon_client");
    const char *bk = opt_string(business_key, "business_key");
    const char *site = opt_string(site_id, "site_id");
    const char *meta = meta_arg(metadata);
    wm_job *j = NULL;
    check(wm_job_start(c, bk, site, meta, &j));
    return new_job_ptr(j, client);
}

SEXP wmr_subjob_start(SEXP parent, SEXP sub_key, SEXP metadata) {
    wm_job *p = get_job(parent);
    const char *sk = opt_string(sub_key, "sub_key");
    const char *meta = meta_arg(metadata);
    wm_job *j = NULL;
    check(wm_subjob_start(p, sk, meta, &j));
    return new_job_ptr(j, parent); /* keeps the parent (and so the client) alive */
}

SEXP wmr_job_progress(SEXP job, SEXP fraction, SEXP metadata) {
    wm_job *j = get_job(job);
    double f = Rf_isNull(fraction) ? NAN : num_arg(fraction, "fraction");
    check(wm_job_progress(j, f, meta_arg(metadata)));
    return R_NilValue;
}

SEXP wmr_job_heartbeat(SEXP job) {
    check(wm_job_heartbeat(get_job(job)));
    return R_NilValue;
}

SEXP wmr_job_set_metric(SEXP job, SEXP name, SEXP value) {
    wm_job *j = get_job(job);
    const char *n = opt_string(name, "name");
    check(wm_job_set_metric(j, n, num_arg(value, "value")));
    return R_NilValue;
}

SEXP wmr_job_succeed(SEXP job, SEXP metadata) {
    wm_job *j = get_job(job);
    check(wm_job_succeed(j, meta_arg(metadata)));
    return R_NilValue;
}

SEXP wmr_job_fail(SEXP job, SEXP type, SEXP message, SEXP metadata) {
    wm_job *j = get_job(job);
    const char *t = opt_string(type, "error type");
    const char *m = opt_string(message, "error message");
    check(wm_job_fail(j, t, m, meta_arg(metadata)));
    return R_NilValue;
}

SEXP wmr_job_cancel(SEXP job, SEXP metadata) {
    wm_job *j = get_job(job);
    check(wm_job_cancel(j, meta_arg(metadata)));
    return R_NilValue;
}

SEXP wmr_job_id(SEXP job) {
    char buf[37];
    check(wm_job_id(get_job(job), buf, sizeof buf));
    return Rf_mkString(buf);
}

SEXP wmr_job_is_finished(SEXP job) { return Rf_ScalarLogical(wm_job_is_finished(get_job(job))); }

/* Releases the handle now (a running job is cancelled by the core); later use: "handle is closed".
 */
SEXP wmr_job_close(SEXP job) {
    if (TYPEOF(job) != EXTPTRSXP || R_ExternalPtrTag(job) != sym_job)
        wmr_throw(WM_E_INVALID_ARGUMENT, "expected a wafermon_job handle");
    job_finalizer(job);
    return R_NilValue;
}

/* NULL when the handle is live, else a short reason; never throws. */
SEXP wmr_job_alive(SEXP job) {
    return Rf_ScalarLogical(TYPEOF(job) == EXTPTRSXP && R_ExternalPtrTag(job) == sym_job &&
                            R_ExternalPtrAddr(job) != NULL);
}

void wmr_init_symbols(void) {
    sym_client = Rf_install("wafermon_client");
    sym_job = Rf_install("wafermon_job");
    cls_job = Rf_mkString("wafermon_job");
    R_PreserveObject(cls_job);
}
