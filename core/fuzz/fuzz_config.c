/* Fuzzes the configuration parser: the caller's JSON text, and each WAFERMON_* variable.
 *
 * Input: a first byte of 1..N selects the variable env_names[byte - 1], whose value is the rest;
 * any other input is the caller's config JSON. Every input must load or be refused with a
 * message, never crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* The variables, in order: WAFERMON_CONFIG, every variable of the key table (config_keys.c), and
 * WAFERMON_FILESYSTEM_PATH. A key added to the table is fuzzed without a change here. */
#define MAX_ENV 64
static const char *env_names[MAX_ENV];
static size_t n_env;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    env_names[n_env++] = "WAFERMON_CONFIG";
    for (size_t i = 0; i < wm__config_n_keys && n_env < MAX_ENV - 1; i++)
        if (wm__config_keys[i].env)
            env_names[n_env++] = wm__config_keys[i].env;
    env_names[n_env++] = WM__FILESYSTEM_PATH_ENV;
    for (size_t i = 0; i < n_env; i++)
        unsetenv(env_names[i]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16)
        return -1;
    char *text = malloc(size + 2);
    if (!text)
        return 0;
    const char *var = NULL;
    if (size > 0 && data[0] >= 1 && data[0] <= n_env) {
        var = env_names[data[0] - 1];
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
