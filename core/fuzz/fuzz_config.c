/* Fuzzes the configuration parser: the caller's JSON text, and each WAFERMON_* variable.
 *
 * Input: a first byte of 1..N selects the variable kEnv[byte - 1], whose value is the rest;
 * any other input is the caller's config JSON. Every input must load or be refused with a
 * message, never crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *const kEnv[] = {
    "WAFERMON_CONFIG",          "WAFERMON_MODE",
    "WAFERMON_SIDECAR_URL",     "WAFERMON_SIDECAR_TIMEOUT",
    "WAFERMON_SIDECAR_RETRIES", "WAFERMON_SIDECAR_TOKEN",
    "WAFERMON_SIDECAR_GZIP",    "WAFERMON_APP_NAME",
    "WAFERMON_APP_VERSION",     "WAFERMON_SITE_ID",
    "WAFERMON_SPOOL_ENABLED",   "WAFERMON_SPOOL_DIR",
    "WAFERMON_SPOOL_MAX_MB",    "WAFERMON_QUEUE_SIZE",
    "WAFERMON_QUEUE_WHEN_FULL", "WAFERMON_BATCH_SIZE",
    "WAFERMON_FLUSH_INTERVAL",  "WAFERMON_EXIT_FLUSH_TIMEOUT",
    "WAFERMON_LOG_LEVEL",       "WAFERMON_FILESYSTEM_PATH",
};
#define N_ENV (sizeof kEnv / sizeof *kEnv)

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < N_ENV; i++)
        unsetenv(kEnv[i]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16)
        return -1;
    char *text = malloc(size + 2);
    if (!text)
        return 0;
    const char *var = NULL;
    if (size > 0 && data[0] >= 1 && data[0] <= N_ENV) {
        var = kEnv[data[0] - 1];
        /* WAFERMON_CONFIG names a file unless it holds inline JSON: keep it inline. */
        size_t at = 0;
        if (data[0] == 1)
            text[at++] = '{';
        memcpy(text + at, data + 1, size - 1);
        text[at + size - 1] = '\0';
    } else {
        memcpy(text, data, size);
        text[size] = '\0';
    }
    wm__config cfg;
    if (var)
        setenv(var, text, 1);
    if (wm__config_load(var ? NULL : text, &cfg) == WM_OK)
        wm__config_free(&cfg);
    if (var)
        unsetenv(var);
    free(text);
    return 0;
}
