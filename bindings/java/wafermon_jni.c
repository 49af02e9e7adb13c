/*
 * JNI glue between the Java SDK (sdk-java, package dev.wafermon) and libwafermon.
 *
 * Rules, following zstd-jni: every entry point is a `private static native` method of the Java
 * class that owns the handle, takes raw pointers as jlong, and returns a wm_status code (or a value
 * from which the code is recovered); the Java side reads wm_last_error() on the same thread and
 * throws. Nothing here throws Java exceptions except the JVM's own OutOfMemoryError when a Java
 * string cannot be created.
 *
 * Strings go in as byte[] holding UTF-8 without a terminating NUL (null for "none"); the Java side
 * has already refused embedded NUL characters and unpaired surrogates, so the bytes are exactly what
 * the user wrote. They are copied into a NUL-terminated buffer here, on the stack when short.
 *
 * Handle-returning calls (client open, job and sub-job start) return the pointer as a positive
 * jlong on success and -status on failure: user-space pointers on the supported platforms are
 * positive and non-zero, and statuses are small positive numbers.
 */
#include <jni.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wafermon.h"

#define JPTR(p) ((jlong)(intptr_t)(p))
#define CLIENT(p) ((wm_client *)(intptr_t)(p))
#define JOB(p) ((wm_job *)(intptr_t)(p))

/* A borrowed C copy of a Java byte[]; short strings stay on the stack. */
typedef struct cstr {
    char *p; /* NULL when the Java array was null */
    char *heap;
    char stack[256];
} cstr;

static int cstr_get(JNIEnv *env, jbyteArray array, cstr *s) {
    s->p = NULL;
    s->heap = NULL;
    if (!array)
        return 0;
    jsize len = (*env)->GetArrayLength(env, array);
    char *dst = s->stack;
    if ((size_t)len >= sizeof s->stack) {
        dst = s->heap = malloc((size_t)len + 1);
        if (!dst)
            return -1;
    }
    (*env)->GetByteArrayRegion(env, array, 0, len, (jbyte *)dst);
    dst[len] = '\0';
    s->p = dst;
    return 0;
}

static void cstr_free(cstr *s) {
    free(s->heap);
    s->heap = NULL;
    s->p = NULL;
}

/* ---- dev.wafermon.NativeLibrary ------------------------------------------------------------- */

JNIEXPORT jstring JNICALL Java_dev_wafermon_NativeLibrary_versionString(JNIEnv *env, jclass cls) {
    return (*env)->NewStringUTF(env, wm_version_string());
}

JNIEXPORT jint JNICALL Java_dev_wafermon_NativeLibrary_versionNumber(JNIEnv *env, jclass cls) {
    return (jint)wm_version();
}

/* The detail of the last failure on this thread. The core writes it with snprintf into a fixed
 * buffer, so it may end in a cut UTF-8 sequence and may hold any bytes: hand Java raw bytes and let
 * it decode them leniently instead of NewStringUTF, which expects modified UTF-8. */
JNIEXPORT jbyteArray JNICALL Java_dev_wafermon_NativeLibrary_lastError(JNIEnv *env, jclass cls) {
    const char *msg = wm_last_error();
    jsize len = (jsize)strlen(msg);
    jbyteArray out = (*env)->NewByteArray(env, len);
    if (out)
        (*env)->SetByteArrayRegion(env, out, 0, len, (const jbyte *)msg);
    return out;
}

/* The status table as a flat String[]: code, name, exception, message for each entry. All its
 * strings are ASCII, so NewStringUTF is exact. */
JNIEXPORT jobjectArray JNICALL Java_dev_wafermon_NativeLibrary_statusTable(JNIEnv *env,
                                                                           jclass cls) {
    const wm_status_desc *descs;
    size_t count;
    wm_status_descs(&descs, &count);
    jclass string_class = (*env)->FindClass(env, "java/lang/String");
    if (!string_class)
        return NULL;
    jobjectArray out = (*env)->NewObjectArray(env, (jsize)(count * 4), string_class, NULL);
    if (!out)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        char code[16];
        snprintf(code, sizeof code, "%d", descs[i].code);
        const char *fields[4] = {code, descs[i].name, descs[i].exception, descs[i].message};
        for (int f = 0; f < 4; f++) {
            jstring s = (*env)->NewStringUTF(env, fields[f]);
            if (!s)
                return NULL;
            (*env)->SetObjectArrayElement(env, out, (jsize)(i * 4 + (size_t)f), s);
            (*env)->DeleteLocalRef(env, s);
        }
    }
    return out;
}

JNIEXPORT jstring JNICALL Java_dev_wafermon_NativeLibrary_statusNameNative(JNIEnv *env, jclass cls,
                                                                     jint status) {
    return (*env)->NewStringUTF(env, wm_status_name((wm_status)status));
}

JNIEXPORT jstring JNICALL Java_dev_wafermon_NativeLibrary_statNameNative(JNIEnv *env, jclass cls,
                                                                   jint stat) {
    const char *name = wm_stat_name((wm_stat)stat);
    return name ? (*env)->NewStringUTF(env, name) : NULL;
}

/* ---- dev.wafermon.Client -------------------------------------------------------------------- */

JNIEXPORT jlong JNICALL Java_dev_wafermon_Client_openNative(JNIEnv *env, jclass cls, jbyteArray config) {
    cstr c;
    if (cstr_get(env, config, &c))
        return -(jlong)WM_E_NOMEM;
    wm_client *client = NULL;
    wm_status st = wm_client_open(c.p, &client);
    cstr_free(&c);
    return st == WM_OK ? JPTR(client) : -(jlong)st;
}

JNIEXPORT jint JNICALL Java_dev_wafermon_Client_flush(JNIEnv *env, jclass cls, jlong client,
                                                      jdouble timeout_s) {
    return (jint)wm_client_flush(CLIENT(client), timeout_s);
}

JNIEXPORT jint JNICALL Java_dev_wafermon_Client_close(JNIEnv *env, jclass cls, jlong client,
                                                      jdouble timeout_s) {
    return (jint)wm_client_close(CLIENT(client), timeout_s);
}

JNIEXPORT jlong JNICALL Java_dev_wafermon_Client_stat(JNIEnv *env, jclass cls, jlong client,
                                                      jint stat) {
    return (jlong)wm_client_stat(CLIENT(client), (wm_stat)stat);
}

/* ---- dev.wafermon.Job ----------------------------------------------------------------------- */

JNIEXPORT jlong JNICALL Java_dev_wafermon_Job_start(JNIEnv *env, jclass cls, jlong client,
                                                    jbyteArray business_key, jbyteArray site_id,
                                                    jbyteArray metadata) {
    cstr bk, site, md;
    wm_status st = WM_E_NOMEM;
    wm_job *job = NULL;
    int failed = cstr_get(env, business_key, &bk);
    failed |= cstr_get(env, site_id, &site);
    failed |= cstr_get(env, metadata, &md);
    if (!failed)
        st = wm_job_start(CLIENT(client), bk.p, site.p, md.p, &job);
    cstr_free(&bk);
    cstr_free(&site);
    cstr_free(&md);
    return st == WM_OK ? JPTR(job) : -(jlong)st;
}

JNIEXPORT jlong JNICALL Java_dev_wafermon_Job_subjobStart(JNIEnv *env, jclass cls, jlong parent,
                                                          jbyteArray sub_key,
                                                          jbyteArray metadata) {
    cstr sk, md;
    wm_status st = WM_E_NOMEM;
    wm_job *job = NULL;
    int failed = cstr_get(env, sub_key, &sk);
    failed |= cstr_get(env, metadata, &md);
    if (!failed)
        st = wm_subjob_start(JOB(parent), sk.p, md.p, &job);
    cstr_free(&sk);
    cstr_free(&md);
    return st == WM_OK ? JPTR(job) : -(jlong)st;
}

JNIEXPORT jint JNICALL Java_dev_wafermon_Job_progress(JNIEnv *env, jclass cls, jlong job,
                                                      jdouble fraction, jbyteArray metadata) {
    cstr md;
    if (cstr_get(env, metadata, &md))
        return WM_E_NOMEM;
    wm_status st = wm_job_progress(JOB(job), fraction, md.p);
    cstr_free(&md);
    return (jint)st;
}

JNIEXPORT jint JNICALL Java_dev_wafermon_Job_heartbeat(JNIEnv *env, jclass cls, jlong job) {
    return (jint)wm_job_heartbeat(JOB(job));
}

JNIEXPORT jint JNICALL Java_dev_wafermon_Job_setTrace(JNIEnv *env, jclass cls, jlong job,
                                                      jbyteArray trace_id, jbyteArray span_id) {
    cstr t, s;
    wm_status st = WM_E_NOMEM;
    int failed = cstr_get(env, trace_id, &t);
    failed |= cstr_get(env, span_id, &s);
    if (!failed)
        st = wm_job_set_trace(JOB(job), t.p, s.p);
    cstr_free(&t);
    cstr_free(&s);
    return (jint)st;
}

JNIEXPORT jint JNICALL Java_dev_wafermon_Job_setMetric(JNIEnv *env, jclass cls, jlong job,
                                                       jbyteArray name, jdouble value) {
    cstr n;
    if (cstr_get(env, name, &n))
        return WM_E_NOMEM;
    wm_status st = wm_job_set_metric(JOB(job), n.p, value);
    cstr_free(&n);
    return (jint)st;
}

/* A finish that takes only metadata (succeed, cancel). */
static jint finish_with_metadata(JNIEnv *env, jlong job, jbyteArray metadata,
                                 wm_status (*finish)(wm_job *, const char *)) {
    cstr md;
    if (cstr_get(env, metadata, &md))
        return WM_E_NOMEM;
    wm_status st = finish(JOB(job), md.p);
    cstr_free(&md);
    return (jint)st;
}

JNIEXPORT jint JNICALL Java_dev_wafermon_Job_succeed(JNIEnv *env, jclass cls, jlong job,
                                                     jbyteArray metadata) {
    return finish_with_metadata(env, job, metadata, wm_job_succeed);
}

JNIEXPORT jint JNICALL Java_dev_wafermon_Job_fail(JNIEnv *env, jclass cls, jlong job,
                                                  jbyteArray error_type, jbyteArray error_message,
                                                  jbyteArray metadata) {
    cstr type, msg, md;
    wm_status st = WM_E_NOMEM;
    int failed = cstr_get(env, error_type, &type);
    failed |= cstr_get(env, error_message, &msg);
    failed |= cstr_get(env, metadata, &md);
    if (!failed)
        st = wm_job_fail(JOB(job), type.p, msg.p, md.p);
    cstr_free(&type);
    cstr_free(&msg);
    cstr_free(&md);
    return (jint)st;
}

JNIEXPORT jint JNICALL Java_dev_wafermon_Job_cancel(JNIEnv *env, jclass cls, jlong job,
                                                    jbyteArray metadata) {
    return finish_with_metadata(env, job, metadata, wm_job_cancel);
}

JNIEXPORT jstring JNICALL Java_dev_wafermon_Job_id(JNIEnv *env, jclass cls, jlong job) {
    char buf[64];
    if (wm_job_id(JOB(job), buf, sizeof buf) != WM_OK)
        return NULL;
    return (*env)->NewStringUTF(env, buf);
}

JNIEXPORT jboolean JNICALL Java_dev_wafermon_Job_isFinished(JNIEnv *env, jclass cls, jlong job) {
    return wm_job_is_finished(JOB(job)) ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT void JNICALL Java_dev_wafermon_Job_destroy(JNIEnv *env, jclass cls, jlong job) {
    wm_job_destroy(JOB(job));
}
