/* Registers every .Call entry point (r-lib ps style): R code calls .Call(C_name, ...). */
#include <R.h>
#include <R_ext/Rdynload.h>
#include <Rinternals.h>

#include "wafermon_r.h"

#define ENTRY(name, n) {"C_" #name, (DL_FUNC)&wmr_##name, n}

static const R_CallMethodDef callMethods[] = {
    ENTRY(version, 0),
    ENTRY(status_table, 0),
    ENTRY(client_open, 1),
    ENTRY(client_close, 2),
    ENTRY(client_flush, 2),
    ENTRY(client_stats, 1),
    ENTRY(job_start, 4),
    ENTRY(subjob_start, 3),
    ENTRY(job_progress, 3),
    ENTRY(job_heartbeat, 1),
    ENTRY(job_set_metric, 3),
    ENTRY(job_succeed, 2),
    ENTRY(job_fail, 4),
    ENTRY(job_cancel, 2),
    ENTRY(job_id, 1),
    ENTRY(job_is_finished, 1),
    ENTRY(job_close, 1),
    ENTRY(job_alive, 1),
    {NULL, NULL, 0}};

void R_init_wafermon(DllInfo *dll) {
    wmr_init_symbols();
    R_registerRoutines(dll, NULL, callMethods, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
    R_forceSymbols(dll, TRUE);
}
