/* Configuration: defaults, errors that name the key, and the order of the layers. */
#include <stdlib.h>

#include "config.h"
#include "testutil.h"

static void clear_env(void) {
    const char *vars[] = {"WAFERMON_CONFIG",       "WAFERMON_MODE",
                          "WAFERMON_SIDECAR_URL",  "WAFERMON_SITE_ID",
                          "WAFERMON_APP_NAME",     "WAFERMON_SPOOL_DIR",
                          "WAFERMON_QUEUE_SIZE",   "WAFERMON_FILESYSTEM_PATH",
                          "WAFERMON_SIDECAR_GZIP", "WAFERMON_BATCH_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

int test_config_defaults_without_any_configuration(void) {
    clear_env();
    const char *home = tu_tempdir();
    setenv("HOME", home, 1);
    unsetenv("XDG_STATE_HOME");
    wm__config c;
    CHECK_OK(wm__config_load(NULL, &c));
    CHECK(c.mode == WM__MODE_SIDECAR);
    CHECK(!strcmp(c.sidecar_url, "http://127.0.0.1:17000"));
    char expected[400];
    snprintf(expected, sizeof expected, "%s/.local/state/wafermon/spool", home);
    CHECK(!strcmp(c.spool_path, expected));
    CHECK(c.queue_size == 10000 && c.batch_size == 500 && c.when_full == WM__WHEN_FULL_SPOOL);
    CHECK(c.batch_max_bytes == 4 * 1024 * 1024);
    CHECK(!strcmp(c.site_id, "default"));
    CHECK(!strcmp(c.app_name, "wm_unit_tests"));
    wm__config_free(&c);
    /* And a client opens with nothing configured (the sidecar is simply not there). */
    wm_client *client;
    CHECK_OK(wm_client_open(NULL, &client));
    CHECK_OK(wm_client_close(client, 0));
    tu_rmtree(home);
    return 0;
}

int test_config_unknown_key_is_named(void) {
    clear_env();
    wm_client *c = (wm_client *)1;
    CHECK_STATUS(wm_client_open("{\"mode\": \"sidecar\", \"colour\": 1}", &c), WM_E_CONFIG);
    CHECK(c == NULL);
    CHECK_ERROR_MENTIONS("unknown key \"colour\"");
    CHECK_STATUS(wm_client_open("{\"sidecar\": {\"ulr\": \"http://x\"}}", &c), WM_E_CONFIG);
    CHECK_ERROR_MENTIONS("\"sidecar.ulr\"");
    CHECK_STATUS(
        wm_client_open(
            "{\"direct_backends\": [{\"type\": \"filesystem\", \"path\": \"/tmp\", \"x\": 1}]}",
            &c),
        WM_E_CONFIG);
    CHECK_ERROR_MENTIONS("direct_backends[0].x");
    return 0;
}

int test_config_bad_values_are_named(void) {
    clear_env();
    wm_client *c;
    struct {
        const char *json, *mention;
    } cases[] = {
        {"{\"mode\": \"carrier-pigeon\"}", "\"mode\" must be \"sidecar\" or \"direct\""},
        {"{\"sidecar\": {\"url\": \"ftp://x\"}}", "sidecar.url"},
        {"{\"sidecar\": {\"timeout\": -1}}", "sidecar.timeout"},
        {"{\"sidecar\": {\"retries\": 1.5}}", "sidecar.retries\" must be an integer"},
        {"{\"queue\": {\"size\": 0}}", "queue.size"},
        {"{\"queue\": {\"when_full\": \"block\"}}", "queue.when_full"},
        {"{\"spool\": {\"max_size_mb\": \"big\"}}", "spool.max_size_mb\" must be a number"},
        {"{\"app\": {\"site_id\": \"\"}}", "app.site_id\" must not be empty"},
        {"{\"batch_size\": 0}", "batch_size"},
        /* Above what the sidecar takes in one request: every batch would be refused whole. */
        {"{\"batch_size\": 20000}", "\"batch_size\" must be at most 10000"},
        {"{\"batch_max_bytes\": 100}", "\"batch_max_bytes\" must be"},
        {"{\"batch_max_bytes\": 17000000}", "\"batch_max_bytes\" must be"},
        {"{\"log_level\": \"loud\"}", "log_level"},
        {"{\"direct_backends\": [{\"type\": \"kafka\", \"path\": \"/x\"}]}",
         "direct_backends[0].type"},
        {"{\"direct_backends\": [{\"type\": \"filesystem\"}]}",
         "direct_backends[0].path\" is required"},
        {"[1, 2]", "must be a JSON object"},
        {"{\"mode\": ", "invalid JSON"},
        {"{\"mode\": \"direct\", \"mode\": \"sidecar\"}", "invalid JSON"}, /* duplicate keys */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_STATUS(wm_client_open(cases[i].json, &c), WM_E_CONFIG);
        if (!strstr(wm_last_error(), cases[i].mention)) {
            fprintf(stderr, "case %zu: '%s' does not mention '%s'\n", i, wm_last_error(),
                    cases[i].mention);
            return 1;
        }
    }
    setenv("WAFERMON_QUEUE_SIZE", "lots", 1);
    CHECK_STATUS(wm_client_open(NULL, &c), WM_E_CONFIG);
    CHECK_ERROR_MENTIONS("WAFERMON_QUEUE_SIZE: must be an integer, got \"lots\"");
    unsetenv("WAFERMON_QUEUE_SIZE");
    setenv("WAFERMON_SIDECAR_GZIP", "maybe", 1);
    CHECK_STATUS(wm_client_open(NULL, &c), WM_E_CONFIG);
    CHECK_ERROR_MENTIONS("WAFERMON_SIDECAR_GZIP");
    unsetenv("WAFERMON_SIDECAR_GZIP");
    setenv("WAFERMON_BATCH_SIZE", "20000", 1);
    CHECK_STATUS(wm_client_open(NULL, &c), WM_E_CONFIG);
    CHECK_ERROR_MENTIONS("WAFERMON_BATCH_SIZE");
    unsetenv("WAFERMON_BATCH_SIZE");
    return 0;
}

int test_config_env_overrides_file_and_json_overrides_env(void) {
    clear_env();
    setenv("WAFERMON_CONFIG",
           "{\"app\": {\"site_id\": \"from-file\", \"name\": \"file-app\"}, \"batch_size\": 7}", 1);
    setenv("WAFERMON_SITE_ID", "from-env", 1);
    wm__config c;
    CHECK_OK(wm__config_load("{\"batch_size\": 9}", &c));
    CHECK(!strcmp(c.site_id, "from-env"));
    CHECK(!strcmp(c.app_name, "file-app"));
    CHECK(c.batch_size == 9);
    wm__config_free(&c);
    CHECK_OK(wm__config_load("{\"app\": {\"site_id\": \"from-json\"}}", &c));
    CHECK(!strcmp(c.site_id, "from-json"));
    CHECK(c.batch_size == 7);
    wm__config_free(&c);
    clear_env();
    return 0;
}

int test_config_file_from_wafermon_config(void) {
    clear_env();
    const char *dir = tu_tempdir();
    char path[300];
    snprintf(path, sizeof path, "%s/wafermon.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"mode\": \"direct\", \"direct_backends\": [{\"type\": \"filesystem\", \"path\": "
          "\"/tmp/x\", "
          "\"max_file_mb\": 2}], \"queue\": {\"size\": 42, \"when_full\": \"drop\"}}",
          f);
    fclose(f);
    setenv("WAFERMON_CONFIG", path, 1);
    wm__config c;
    CHECK_OK(wm__config_load(NULL, &c));
    CHECK(c.mode == WM__MODE_DIRECT && c.n_backends == 1 && c.queue_size == 42 &&
          c.when_full == WM__WHEN_FULL_DROP);
    CHECK(c.backends[0].max_file_bytes == 2 * 1024 * 1024);
    wm__config_free(&c);
    f = fopen(path, "w");
    fputs("{\"queue\": {\"size\": \"x\"}}", f);
    fclose(f);
    CHECK_STATUS(wm__config_load(NULL, &c), WM_E_CONFIG);
    CHECK_ERROR_MENTIONS(path);
    CHECK_ERROR_MENTIONS("queue.size");
    setenv("WAFERMON_CONFIG", "/nonexistent/wafermon.json", 1);
    CHECK_STATUS(wm__config_load(NULL, &c), WM_E_CONFIG);
    CHECK_ERROR_MENTIONS("/nonexistent/wafermon.json: cannot read");
    clear_env();
    tu_rmtree(dir);
    return 0;
}

int test_config_direct_mode_needs_backend(void) {
    clear_env();
    wm_client *c;
    CHECK_STATUS(wm_client_open("{\"mode\": \"direct\"}", &c), WM_E_CONFIG);
    CHECK_ERROR_MENTIONS("direct_backends");
    setenv("WAFERMON_MODE", "direct", 1);
    setenv("WAFERMON_FILESYSTEM_PATH", "/tmp/wm-fs", 1);
    wm__config cfg;
    CHECK_OK(wm__config_load(NULL, &cfg));
    CHECK(cfg.n_backends == 1 && !strcmp(cfg.backends[0].path, "/tmp/wm-fs"));
    wm__config_free(&cfg);
    clear_env();
    return 0;
}

int test_config_get_gives_the_layered_value(void) {
    clear_env();
    tu_fixture fx;
    tu_fixture_init(&fx);
    setenv("WAFERMON_CONFIG", "{\"exit_flush_timeout\": 1.5, \"queue\": {\"size\": 77}}", 1);
    setenv("WAFERMON_QUEUE_SIZE", "78", 1);
    char json[600];
    snprintf(json, sizeof json,
             "{\"spool\": {\"path\": \"%s\"}, \"sidecar\": {\"url\": \"http://127.0.0.1:9\"}, "
             "\"queue\": {\"when_full\": \"drop\"}}",
             fx.spool);
    wm_client *c;
    CHECK_OK(wm_client_open(json, &c));
    char buf[64];
    CHECK_OK(wm_client_config_get(c, "exit_flush_timeout", buf, sizeof buf));
    CHECK(strtod(buf, NULL) == 1.5); /* from WAFERMON_CONFIG */
    CHECK_OK(wm_client_config_get(c, "queue.size", buf, sizeof buf));
    CHECK(!strcmp(buf, "78")); /* the variable beats the file */
    CHECK_OK(wm_client_config_get(c, "queue.when_full", buf, sizeof buf));
    CHECK(!strcmp(buf, "\"drop\"")); /* the caller's JSON beats both */
    CHECK_OK(wm_client_config_get(c, "batch_size", buf, sizeof buf));
    CHECK(!strcmp(buf, "500")); /* the default */
    CHECK_OK(wm_client_config_get(c, "sidecar.token", buf, sizeof buf));
    CHECK(!strcmp(buf, "null"));
    CHECK_OK(wm_client_config_get(c, "spool.max_size_mb", buf, sizeof buf));
    CHECK(strtod(buf, NULL) == 512);
    CHECK_STATUS(wm_client_config_get(c, "queue.colour", buf, sizeof buf), WM_E_CONFIG);
    CHECK_ERROR_MENTIONS("unknown key \"queue.colour\"");
    CHECK_STATUS(wm_client_config_get(c, "direct_backends[0].path", buf, sizeof buf), WM_E_CONFIG);
    CHECK_STATUS(wm_client_config_get(c, "sidecar.url", buf, 4), WM_E_TOO_LARGE);
    CHECK_ERROR_MENTIONS("needs a buffer of 21 bytes");
    CHECK_STATUS(wm_client_config_get(NULL, "mode", buf, sizeof buf), WM_E_INVALID_ARGUMENT);
    CHECK_OK(wm_client_close(c, 0));
    clear_env();
    tu_fixture_done(&fx);
    return 0;
}

int test_config_every_key_has_its_default(void) {
    clear_env();
    wm__config c;
    CHECK_OK(wm__config_load(NULL, &c));
    /* One row of the table per key: each default reads back as the docs give it. */
    for (size_t i = 0; i < wm__config_n_keys; i++) {
        const wm__config_key *k = &wm__config_keys[i];
        char *text;
        CHECK_OK(wm__config_value_json(&c, k->name, &text));
        if (k->def && (k->type == WM__KEY_NUMBER || k->type == WM__KEY_MEGABYTES))
            CHECK(strtod(text, NULL) == strtod(k->def, NULL));
        else if (k->def && k->type != WM__KEY_STRING && k->type != WM__KEY_CHOICE)
            CHECK(!strcmp(text, k->def));
        else if (k->def)
            CHECK(strlen(text) == strlen(k->def) + 2 && !strncmp(text + 1, k->def, strlen(k->def)));
        else if (!k->computed_default)
            CHECK(!strcmp(text, "null"));
        CHECK(k->help && k->help[0]);
        free(text);
    }
    wm__config_free(&c);
    return 0;
}
