/* Internal: setting the per-thread error detail. */
#ifndef WM_STATUS_H
#define WM_STATUS_H

#include "wafermon.h"

/* Records status and a printf-style detail for wm_last_error(); returns status. */
wm_status wm__fail(wm_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
