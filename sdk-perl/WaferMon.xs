/* XS glue between Perl and libwafermon: handles as blessed scalar refs, statuses as
 * WaferMon::Error objects; Perl data becomes JSON in lib/WaferMon/JSON.pm. No core logic lives here. */
#define PERL_NO_GET_CONTEXT
#include "EXTERN.h"
#include "perl.h"
#include "XSUB.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <wafermon.h>

typedef struct wmp_client {
    wm_client *client;
} wmp_client;

typedef struct wmp_job {
    wm_job *job;
    pid_t pid;         /* the process that started it: DESTROY elsewhere only frees */
    SV *snap_err;      /* $@ when the job was created (scope-guard bookkeeping) */
    IV snap_status;    /* $? then */
    SV *client;        /* the WaferMon::Client object's referent: kept alive while the job is */
} wmp_job;

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

static int in_wafermon_pm(const char *file) {
    size_t n = file ? strlen(file) : 0;
    return n >= 11 && !strcmp(file + n - 11, "WaferMon.pm");
}

/* Throws a WaferMon::Error::<Exception> object { code, name, status, message, file, line }. */
static void wmp_throw(pTHX_ int code, const char *detail) {
    const wm_status_desc *d = find_desc(code);
    const char *exc = d ? d->exception : "InternalError";
    const char *msg = detail && detail[0] ? detail : (d ? d->message : "error");
    char pkg[128];
    snprintf(pkg, sizeof pkg, "WaferMon::Error::%s", exc);
    HV *hv = newHV();
    hv_stores(hv, "code", newSViv(code));
    hv_stores(hv, "name", newSVpv(exc, 0));
    hv_stores(hv, "status", newSVpv(d ? d->name : "WM_E_UNKNOWN", 0));
    SV *m = newSVpv(msg, 0);
    if (is_utf8_string((const U8 *)msg, strlen(msg)))
        SvUTF8_on(m);
    hv_stores(hv, "message", m);
    /* Where the user called us: the first frame outside WaferMon.pm. */
    const COP *cop = PL_curcop;
    for (I32 level = 0; cop && in_wafermon_pm(CopFILE(cop)); level++) {
        const PERL_CONTEXT *cx = caller_cx(level, NULL);
        cop = cx ? cx->blk_oldcop : NULL;
    }
    if (!cop)
        cop = PL_curcop;
    if (cop) {
        hv_stores(hv, "file", newSVpv(CopFILE(cop) ? CopFILE(cop) : "?", 0));
        hv_stores(hv, "line", newSVuv(CopLINE(cop)));
    }
    SV *rv = newRV_noinc((SV *)hv);
    sv_bless(rv, gv_stashpv(pkg, GV_ADD));
    croak_sv(sv_2mortal(rv));
}

static void check(pTHX_ wm_status st) {
    if (st == WM_OK)
        return;
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", wm_last_error());
    wmp_throw(aTHX_ (int)st, detail);
}

/* ---- handles (the typemap's one fatal check) ---------------------------------------------- */

static void *handle_from_sv(pTHX_ SV *sv, const char *cls) {
    if (!(SvROK(sv) && sv_derived_from(sv, cls) && SvTYPE(SvRV(sv)) < SVt_PVAV)) {
        char m[160];
        snprintf(m, sizeof m, "expected a %s object", cls);
        wmp_throw(aTHX_ WM_E_INVALID_ARGUMENT, m);
    }
    void *p = INT2PTR(void *, SvIV(SvRV(sv)));
    if (!p)
        wmp_throw(aTHX_ WM_E_CLOSED, "handle is closed");
    return p;
}

static wmp_job *wmp_job_from_sv(pTHX_ SV *sv) {
    wmp_job *j = handle_from_sv(aTHX_ sv, "WaferMon::Job");
    if (!j->job)
        wmp_throw(aTHX_ WM_E_CLOSED, "handle is closed");
    return j;
}

static wmp_client *wmp_client_from_sv(pTHX_ SV *sv) {
    wmp_client *c = handle_from_sv(aTHX_ sv, "WaferMon::Client");
    if (!c->client)
        wmp_throw(aTHX_ WM_E_CLOSED, "the client is closed");
    return c;
}

static SV *wrap(pTHX_ void *p, const char *cls) {
    SV *obj = newSV(0);
    sv_setiv(obj, PTR2IV(p));
    SV *rv = newRV_noinc(obj);
    sv_bless(rv, gv_stashpv(cls, GV_ADD));
    return rv;
}

static SV *new_job(pTHX_ wm_job *job, SV *client) {
    wmp_job *j;
    Newxz(j, 1, wmp_job);
    j->job = job;
    j->client = client ? SvREFCNT_inc_simple_NN(client) : NULL;
    j->pid = getpid();
    j->snap_err = newSVsv(ERRSV);
    j->snap_status = (IV)STATUS_CURRENT;
    return wrap(aTHX_ j, "WaferMon::Job");
}

/* ---- Perl data -> JSON: WaferMon::JSON::encode (JSON::PP, lib/WaferMon/JSON.pm) ---------- */

/* what: "metadata" (undef -> NULL; must be a hash ref) or "config" (ConfigError) or "value".
 * Returns the JSON text (a mortal character string) or NULL; a refusal is thrown from Perl. */
static SV *to_json(pTHX_ SV *x, const char *what) {
    SvGETMAGIC(x);
    if (!SvOK(x) && strcmp(what, "value"))
        return NULL; /* no metadata: no call into Perl on the hot path */
    dSP;
    ENTER;
    SAVETMPS;
    PUSHMARK(SP);
    XPUSHs(x);
    XPUSHs(sv_2mortal(newSVpv(what, 0)));
    PUTBACK;
    int n = call_pv("WaferMon::JSON::encode", G_SCALAR);
    SPAGAIN;
    SV *out = n == 1 ? POPs : &PL_sv_undef;
    out = SvOK(out) ? newSVsv(out) : NULL;
    PUTBACK;
    FREETMPS;
    LEAVE;
    return out ? sv_2mortal(out) : NULL;
}

static const char *meta_arg(pTHX_ SV *m) {
    SV *j = to_json(aTHX_ m, "metadata");
    return j ? SvPVutf8_nolen(j) : NULL;
}

/* A string SV as UTF-8 bytes: character strings are encoded, byte strings taken as Latin-1. */
static const char *utf8_bytes(pTHX_ SV *sv, STRLEN *len) {
    if (SvUTF8(sv))
        return SvPV(sv, *len);
    SV *tmp = sv_2mortal(newSVsv(sv));
    sv_utf8_upgrade(tmp);
    return SvPV(tmp, *len);
}

/* The metadata with a schedule monitor declared from code added under "wafermon.monitor" (a new
 * mortal hash; the caller's is left alone). A monitor that is not a hash reference is an
 * InvalidArgumentError; metadata that is not a hash reference is returned as is (to_json refuses it). */
static SV *with_monitor(pTHX_ SV *metadata, SV *monitor) {
    SvGETMAGIC(monitor);
    if (!SvOK(monitor))
        return metadata;
    if (!SvROK(monitor) || SvTYPE(SvRV(monitor)) != SVt_PVHV)
        wmp_throw(aTHX_ WM_E_INVALID_ARGUMENT,
                  "monitor must be a hash reference, e.g. {schedule => '0 2 * * *'}");
    SvGETMAGIC(metadata);
    HV *merged;
    if (!SvOK(metadata))
        merged = newHV();
    else if (SvROK(metadata) && SvTYPE(SvRV(metadata)) == SVt_PVHV)
        merged = newHVhv((HV *)SvRV(metadata));
    else
        return metadata;
    hv_stores(merged, "wafermon.monitor", newSVsv(monitor));
    return sv_2mortal(newRV_noinc((SV *)merged));
}

/* undef -> NULL; else the string as UTF-8. */
static const char *opt_str(pTHX_ SV *sv) {
    SvGETMAGIC(sv);
    if (!SvOK(sv))
        return NULL;
    if (SvROK(sv) && !sv_isobject(sv))
        wmp_throw(aTHX_ WM_E_INVALID_ARGUMENT, "expected a string, got a reference");
    STRLEN len;
    const char *s = utf8_bytes(aTHX_ sv, &len);
    if (strlen(s) != len)
        wmp_throw(aTHX_ WM_E_ENCODING, "a string contains a NUL character");
    return s;
}

/* Reads name => value pairs from ST(first..items-1) into vals[] by names[]; an unknown name or an
 * odd count is an InvalidArgumentError. */
static void named_args(pTHX_ SV **args, I32 n, const char *const *names, SV **vals, int nnames,
                       const char *known) {
    for (int k = 0; k < nnames; k++)
        vals[k] = &PL_sv_undef;
    if (n % 2) {
        char m[200];
        snprintf(m, sizeof m, "arguments must be name => value pairs (known: %s)", known);
        wmp_throw(aTHX_ WM_E_INVALID_ARGUMENT, m);
    }
    for (I32 i = 0; i < n; i += 2) {
        STRLEN len;
        const char *name = SvPV(args[i], len);
        int k = 0;
        while (k < nnames && !(strlen(names[k]) == len && !memcmp(names[k], name, len)))
            k++;
        if (k == nnames) {
            char m[300];
            snprintf(m, sizeof m, "unknown argument \"%.*s\" (known: %s)", (int)(len > 64 ? 64 : len), name,
                     known);
            wmp_throw(aTHX_ WM_E_INVALID_ARGUMENT, m);
        }
        vals[k] = args[i + 1];
    }
}

/* $WaferMon::CLIENT, opening it through WaferMon->client when unset. */
static SV *default_client(pTHX) {
    SV *c = get_sv("WaferMon::CLIENT", GV_ADD);
    if (SvROK(c))
        return c;
    dSP;
    ENTER;
    SAVETMPS;
    PUSHMARK(SP);
    XPUSHs(sv_2mortal(newSVpvs("WaferMon")));
    PUTBACK;
    call_method("client", G_SCALAR | G_DISCARD);
    FREETMPS;
    LEAVE;
    return get_sv("WaferMon::CLIENT", GV_ADD);
}

/* True when the scope guard's outcome is plainly "succeeded": not global destruction, $@ false or
 * the same as when the job was created, and $? not an exit status that appeared since. */
static int guard_plain_exit(pTHX_ wmp_job *self) {
    if (PL_phase == PERL_PHASE_DESTRUCT)
        return 0;
    IV status = (IV)STATUS_CURRENT;
    if (status > 0 && status < 256 && status != self->snap_status)
        return 0;
    SV *err = ERRSV;
    if (!SvOK(err))
        return 1;
    if (!SvROK(err)) {
        STRLEN len;
        (void)SvPV(err, len);
        if (len == 0)
            return 1;
    }
    SV *snap = self->snap_err;
    if (SvROK(err))
        return SvROK(snap) && SvRV(snap) == SvRV(err);
    return !SvROK(snap) && SvOK(snap) && sv_eq(err, snap);
}

MODULE = WaferMon    PACKAGE = WaferMon

PROTOTYPES: DISABLE

const char *
core_version()
  CODE:
    RETVAL = wm_version_string();
  OUTPUT:
    RETVAL

void
_status_descs()
  PPCODE:
    const wm_status_desc *d;
    size_t n;
    wm_status_descs(&d, &n);
    for (size_t i = 0; i < n; i++) {
        AV *row = newAV();
        av_push(row, newSViv(d[i].code));
        av_push(row, newSVpv(d[i].name, 0));
        av_push(row, newSVpv(d[i].exception, 0));
        av_push(row, newSVpv(d[i].message, 0));
        mXPUSHs(newRV_noinc((SV *)row));
    }

void
_throw(int code, const char *message)
  CODE:
    wmp_throw(aTHX_ code, message);

SV *
job(SV *klass, ...)
  CODE:
    static const char *const names[] = {"business_key", "site_id", "metadata", "monitor"};
    SV *v[4];
    PERL_UNUSED_VAR(klass);
    named_args(aTHX_ &ST(1), items - 1, names, v, 4, "business_key site_id metadata monitor");
    SV *client_sv = default_client(aTHX);
    wmp_client *c = wmp_client_from_sv(aTHX_ client_sv);
    const char *bk = opt_str(aTHX_ v[0]);
    const char *site = opt_str(aTHX_ v[1]);
    const char *meta = meta_arg(aTHX_ with_monitor(aTHX_ v[2], v[3]));
    wm_job *j = NULL;
    check(aTHX_ wm_job_start(c->client, bk, site, meta, &j));
    RETVAL = new_job(aTHX_ j, SvRV(client_sv));
  OUTPUT:
    RETVAL

MODULE = WaferMon    PACKAGE = WaferMon::Client

SV *
_open(SV *config)
  CODE:
    SV *j = to_json(aTHX_ config, "config");
    wm_client *c = NULL;
    check(aTHX_ wm_client_open(j ? SvPVutf8_nolen(j) : NULL, &c));
    wmp_client *w;
    Newxz(w, 1, wmp_client);
    w->client = c;
    RETVAL = wrap(aTHX_ w, "WaferMon::Client");
  OUTPUT:
    RETVAL

void
flush(wmp_client *self, double timeout = 10)
  CODE:
    check(aTHX_ wm_client_flush(self->client, timeout));

void
close(SV *self_sv, double timeout = 10)
  CODE:
    wmp_client *self = handle_from_sv(aTHX_ self_sv, "WaferMon::Client");
    wm_client *c = self->client;
    self->client = NULL;
    if (c)
        check(aTHX_ wm_client_close(c, timeout));

SV *
stats(wmp_client *self)
  CODE:
    HV *hv = newHV();
    for (int i = 0; i < WM_STAT__COUNT; i++)
        hv_store(hv, wm_stat_name((wm_stat)i), (I32)strlen(wm_stat_name((wm_stat)i)),
                 newSVuv((UV)wm_client_stat(self->client, (wm_stat)i)), 0);
    RETVAL = newRV_noinc((SV *)hv);
  OUTPUT:
    RETVAL

SV *
_start(wmp_client *self, SV *business_key, SV *site_id, SV *metadata)
  CODE:
    const char *bk = opt_str(aTHX_ business_key);
    const char *site = opt_str(aTHX_ site_id);
    const char *meta = meta_arg(aTHX_ metadata);
    wm_job *j = NULL;
    check(aTHX_ wm_job_start(self->client, bk, site, meta, &j));
    RETVAL = new_job(aTHX_ j, SvRV(ST(0)));
  OUTPUT:
    RETVAL

void
DESTROY(SV *self_sv)
  CODE:
    if (!SvROK(self_sv))
        return;
    wmp_client *self = INT2PTR(wmp_client *, SvIV(SvRV(self_sv)));
    if (!self)
        return;
    /* At global destruction, jobs may still finish after this object is gone: leave the client
     * open; the core's exit handler flushes it (exit_flush_timeout). */
    if (PL_phase != PERL_PHASE_DESTRUCT) {
        if (self->client)
            wm_client_close(self->client, 10);
        sv_setiv(SvRV(self_sv), 0);
        Safefree(self);
    }

MODULE = WaferMon    PACKAGE = WaferMon::Job

SV *
subjob(wmp_job *self, ...)
  CODE:
    static const char *const names[] = {"sub_key", "metadata"};
    SV *v[2];
    named_args(aTHX_ &ST(1), items - 1, names, v, 2, "sub_key metadata");
    const char *sk = opt_str(aTHX_ v[0]);
    const char *meta = meta_arg(aTHX_ v[1]);
    wm_job *j = NULL;
    check(aTHX_ wm_subjob_start(self->job, sk, meta, &j));
    RETVAL = new_job(aTHX_ j, self->client);
  OUTPUT:
    RETVAL

void
progress(wmp_job *self, SV *fraction = &PL_sv_undef, SV *metadata = &PL_sv_undef)
  CODE:
    double f = SvOK(fraction) ? SvNV(fraction) : NAN;
    check(aTHX_ wm_job_progress(self->job, f, meta_arg(aTHX_ metadata)));

void
heartbeat(wmp_job *self)
  CODE:
    check(aTHX_ wm_job_heartbeat(self->job));

void
set_trace(wmp_job *self, const char *trace_id, const char *span_id)
  CODE:
    check(aTHX_ wm_job_set_trace(self->job, trace_id, span_id));

void
set_metric(wmp_job *self, const char *name, double value)
  CODE:
    check(aTHX_ wm_job_set_metric(self->job, name, value));

void
succeed(wmp_job *self, SV *metadata = &PL_sv_undef)
  CODE:
    check(aTHX_ wm_job_succeed(self->job, meta_arg(aTHX_ metadata)));

void
cancel(wmp_job *self, SV *metadata = &PL_sv_undef)
  CODE:
    check(aTHX_ wm_job_cancel(self->job, meta_arg(aTHX_ metadata)));

void
_fail(wmp_job *self, SV *type, SV *message, SV *metadata)
  CODE:
    const char *t = opt_str(aTHX_ type);
    const char *m = opt_str(aTHX_ message);
    check(aTHX_ wm_job_fail(self->job, t, m, meta_arg(aTHX_ metadata)));

SV *
id(wmp_job *self)
  CODE:
    char buf[37];
    check(aTHX_ wm_job_id(self->job, buf, sizeof buf));
    RETVAL = newSVpv(buf, 36);
  OUTPUT:
    RETVAL

int
is_finished(wmp_job *self)
  CODE:
    RETVAL = wm_job_is_finished(self->job);
  OUTPUT:
    RETVAL

void
_guard_state(SV *self_sv)
  PPCODE:
    /* (alive, pid, snapshot $@, snapshot $?) without throwing: DESTROY's bookkeeping. */
    wmp_job *self = (SvROK(self_sv) && sv_derived_from(self_sv, "WaferMon::Job"))
                        ? INT2PTR(wmp_job *, SvIV(SvRV(self_sv)))
                        : NULL;
    if (!self || !self->job) {
        mXPUSHi(0);
    } else {
        mXPUSHi(1);
        mXPUSHi((IV)self->pid);
        XPUSHs(sv_2mortal(newSVsv(self->snap_err)));
        mXPUSHi(self->snap_status);
        mXPUSHi(wm_job_is_finished(self->job));
    }

void
DESTROY(SV *self_sv)
  CODE:
    wmp_job *self = (SvROK(self_sv) && SvIOK(SvRV(self_sv))) ? INT2PTR(wmp_job *, SvIV(SvRV(self_sv))) : NULL;
    if (!self)
        XSRETURN_EMPTY;
    if (self->job && self->pid == getpid() && !wm_job_is_finished(self->job) &&
        guard_plain_exit(aTHX_ self)) {
        /* The common case, decided here: no new exception in $@, no exit status, not global
         * destruction -> succeeded (exactly what _guard_destroy would decide). */
        wm_status st = wm_job_succeed(self->job, NULL);
        if (st != WM_OK && st != WM_E_CLOSED)
            warn("wafermon: could not finish job in DESTROY: %s", wm_last_error());
    }
    if (self->job && self->pid == getpid() && !wm_job_is_finished(self->job)) {
        /* Still running here: the scope guard (WaferMon::Job::_guard_destroy, in Perl) decides. */
        dSP;
        ENTER;
        SAVETMPS;
        PUSHMARK(SP);
        XPUSHs(self_sv);
        PUTBACK;
        call_method("_guard_destroy", G_DISCARD | G_VOID);
        FREETMPS;
        LEAVE;
        self = INT2PTR(wmp_job *, SvIV(SvRV(self_sv)));
        if (!self)
            XSRETURN_EMPTY;
    }
    sv_setiv(SvRV(self_sv), 0);
    wm_job_destroy(self->job); /* in another process: frees without finishing (the core checks) */
    SvREFCNT_dec(self->snap_err);
    SvREFCNT_dec(self->client);
    Safefree(self);

void
release(SV *self_sv)
  CODE:
    /* Frees the C handle now (a job still running is cancelled by the core, in the process that
     * started it); later use throws ClosedError "handle is closed". Idempotent. */
    if (!(SvROK(self_sv) && sv_derived_from(self_sv, "WaferMon::Job")))
        wmp_throw(aTHX_ WM_E_INVALID_ARGUMENT, "expected a WaferMon::Job object");
    wmp_job *self = INT2PTR(wmp_job *, SvIV(SvRV(self_sv)));
    if (self) {
        sv_setiv(SvRV(self_sv), 0);
        wm_job_destroy(self->job);
        SvREFCNT_dec(self->snap_err);
        SvREFCNT_dec(self->client);
        Safefree(self);
    }
