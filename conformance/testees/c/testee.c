/* The C testee of the conformance suite (conformance/PROTOCOL.md): performs a scenario through the
 * public C API and prints one JSON line per step. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wafermon.h>

#define MAX_JOBS 64

static struct {
    char name[64];
    wm_job *job;
} jobs[MAX_JOBS];
static int n_jobs;

static wm_job *find_job(const char *name) {
    for (int i = 0; name && i < n_jobs; i++)
        if (!strcmp(jobs[i].name, name))
            return jobs[i].job;
    return NULL;
}

static void remember(const char *name, wm_job *job) {
    if (name && n_jobs < MAX_JOBS) {
        snprintf(jobs[n_jobs].name, sizeof jobs[n_jobs].name, "%s", name);
        jobs[n_jobs++].job = job;
    }
}

/* The step's metadata as JSON text: "metadata" re-encoded, or "metadata_raw" as given. */
static char *metadata_of(json_t *step) {
    json_t *raw = json_object_get(step, "metadata_raw");
    if (json_is_string(raw))
        return strdup(json_string_value(raw));
    json_t *m = json_object_get(step, "metadata");
    return m ? json_dumps(m, JSON_COMPACT) : NULL;
}

static const char *str(json_t *step, const char *key) {
    return json_string_value(json_object_get(step, key));
}

static const char *exception_name(wm_status st) {
    const wm_status_desc *descs;
    size_t n;
    wm_status_descs(&descs, &n);
    return (size_t)st < n ? descs[st].exception : "UnknownError";
}

static void report(int index, wm_status st, wm_job *started) {
    json_t *line = json_pack("{s:i, s:b}", "step", index, "ok", st == WM_OK);
    if (st != WM_OK) {
        json_object_set_new(line, "error", json_string(exception_name(st)));
        json_object_set_new(line, "message", json_string(wm_last_error()));
    } else if (started) {
        char id[37];
        wm_job_id(started, id, sizeof id);
        json_object_set_new(line, "id", json_string(id));
    }
    char *text = json_dumps(line, JSON_COMPACT);
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(line);
}

static wm_status fork_child(wm_client *c, json_t *step) {
    wm_job *parent = find_job(str(step, "parent"));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        wm_job *child;
        int code = 0;
        if (wm_subjob_start(parent, str(step, "sub_key"), NULL, &child) != WM_OK)
            code = 1;
        else if (wm_job_succeed(child, NULL) != WM_OK)
            code = 2;
        if (wm_client_flush(c, 10) != WM_OK)
            code = 3;
        _exit(code);
    }
    int status;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return WM_OK;
    fprintf(stderr, "fork child failed with status %d\n", status);
    return WM_E_INTERNAL;
}

static wm_status run_step(wm_client *c, json_t *step, wm_job **started) {
    const char *op = str(step, "op");
    char *meta = metadata_of(step);
    wm_status st = WM_E_INVALID_ARGUMENT;
    if (!op) {
        fprintf(stderr, "step without op\n");
    } else if (!strcmp(op, "start")) {
        st = wm_job_start(c, str(step, "business_key"), str(step, "site_id"), meta, started);
        if (st == WM_OK)
            remember(str(step, "as"), *started);
    } else if (!strcmp(op, "subjob")) {
        st = wm_subjob_start(find_job(str(step, "parent")), str(step, "sub_key"), meta, started);
        if (st == WM_OK)
            remember(str(step, "as"), *started);
    } else if (!strcmp(op, "progress")) {
        json_t *f = json_object_get(step, "fraction");
        st = wm_job_progress(find_job(str(step, "job")),
                             json_is_number(f) ? json_number_value(f) : NAN, meta);
    } else if (!strcmp(op, "heartbeat")) {
        st = wm_job_heartbeat(find_job(str(step, "job")));
    } else if (!strcmp(op, "succeed")) {
        st = wm_job_succeed(find_job(str(step, "job")), meta);
    } else if (!strcmp(op, "cancel")) {
        st = wm_job_cancel(find_job(str(step, "job")), meta);
    } else if (!strcmp(op, "fail")) {
        st = wm_job_fail(find_job(str(step, "job")), str(step, "error_type"),
                         str(step, "error_message"), meta);
    } else if (!strcmp(op, "flush")) {
        json_t *t = json_object_get(step, "timeout");
        st = wm_client_flush(c, json_is_number(t) ? json_number_value(t) : 10);
    } else if (!strcmp(op, "sleep")) {
        usleep((useconds_t)(json_number_value(json_object_get(step, "seconds")) * 1e6));
        st = WM_OK;
    } else if (!strcmp(op, "fork_child")) {
        st = fork_child(c, step);
    } else {
        fprintf(stderr, "unknown op %s\n", op);
    }
    free(meta);
    return st;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: wm_testee SCENARIO.json\n");
        return 2;
    }
    json_error_t err;
    json_t *scenario = json_load_file(argv[1], 0, &err);
    if (!scenario) {
        fprintf(stderr, "%s: %s\n", argv[1], err.text);
        return 2;
    }
    wm_client *c;
    if (wm_client_open(NULL, &c) != WM_OK) {
        fprintf(stderr, "open: %s\n", wm_last_error());
        return 1;
    }
    json_t *steps = json_object_get(scenario, "steps");
    for (size_t i = 0; i < json_array_size(steps); i++) {
        wm_job *started = NULL;
        wm_status st = run_step(c, json_array_get(steps, i), &started);
        report((int)i, st, started);
    }
    wm_status st = wm_client_close(c, 10);
    for (int i = 0; i < n_jobs; i++)
        wm_job_destroy(jobs[i].job); /* the client is closed: frees without emitting */
    json_decref(scenario);
    return st == WM_OK ? 0 : 1;
}
