#ifndef WAFERMON_R_H
#define WAFERMON_R_H
#include <Rinternals.h>

void wmr_throw(int code, const char *detail);
void wmr_init_symbols(void);

SEXP wmr_version(void);
SEXP wmr_status_table(void);
SEXP wmr_client_open(SEXP config_json);
SEXP wmr_client_close(SEXP ptr, SEXP timeout);
SEXP wmr_client_flush(SEXP ptr, SEXP timeout);
SEXP wmr_client_stats(SEXP ptr);
SEXP wmr_job_start(SEXP client, SEXP business_key, SEXP site_id, SEXP metadata);
SEXP wmr_subjob_start(SEXP parent, SEXP sub_key, SEXP metadata);
SEXP wmr_job_progress(SEXP job, SEXP fraction, SEXP metadata);
SEXP wmr_job_heartbeat(SEXP job);
SEXP wmr_job_set_metric(SEXP job, SEXP name, SEXP value);
SEXP wmr_job_succeed(SEXP job, SEXP metadata);
SEXP wmr_job_fail(SEXP job, SEXP type, SEXP message, SEXP metadata);
SEXP wmr_job_cancel(SEXP job, SEXP metadata);
SEXP wmr_job_id(SEXP job);
SEXP wmr_job_is_finished(SEXP job);
SEXP wmr_job_close(SEXP job);
SEXP wmr_job_alive(SEXP job);
#endif
