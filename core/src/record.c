/* Releasing a record's owned parts. */
#include <stdlib.h>

#include "job.h"
#include "record.h"

void wm__record_release(wm__record *r) {
    json_decref(r->metadata);
    free(r->error_type);
    free(r->error_message);
    if (r->job)
        wm__job_unref(r->job);
    r->metadata = NULL;
    r->error_type = r->error_message = NULL;
    r->job = NULL;
}
