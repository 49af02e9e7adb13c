/* Runtime version, so a program can tell which library it actually loaded. */
#include "wafermon.h"

unsigned wm_version(void) {
    return WAFERMON_VERSION_NUM;
}

const char *wm_version_string(void) {
    return WAFERMON_VERSION_STRING;
}
