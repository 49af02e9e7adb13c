/* Internal: the job handle shared by the application thread and the records in flight. */
#ifndef WM_JOB_H
#define WM_JOB_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "resources.h"
#include "uuid.h"
#include "wafermon.h"

struct wm_job {
    atomic_int refs; /* the user's handle + one per record in flight */
    wm_client *client;
    struct wm_job *parent; /* a counted reference, for parent_id only */
    unsigned fork_generation;
    uint8_t entity_id[16];
    bool is_subjob;
    atomic_bool finished;
    atomic_uint next_seq;
    int64_t started_mono_us;
    wm__usage started_usage;
    /* metric overrides set by wm_job_set_metric; NaN when unset */
    double metric_override[4];
    atomic_bool has_trace;
    uint8_t trace[24];
    char *business_key; /* NULL for none */
    char *sub_key;
    char *site_id;
    /* The job's own app (wm_job_start_app), inherited by its sub-jobs; NULL = the client's. */
    const char *app_name;
    const char *app_version;
    const char *app_id; /* NULL: no "id" in the events */
    char *app_block;    /* owns the three strings above when this job set them; else NULL */
};

void wm__job_ref(wm_job *job);
/* Checks a caller's metadata (size, UTF-8, JSON, an object) and parses it; NULL gives *out =
 * NULL. The caller owns *out. (Not static only so core/fuzz can reach it.) */
wm_status wm__metadata_parse(const char *metadata_json, json_t **out);
void wm__job_unref(wm_job *job);

#endif
