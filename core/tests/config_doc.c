/* Writes the configuration table of docs/c-core.md from the core's own table (config_keys.c).
 *   wm_config_doc --write docs/c-core.md   regenerates it between the two markers
 *   wm_config_doc --check docs/c-core.md   fails (exit 1) when the page is stale (a ctest does
 * this)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"

#define BEGIN_MARK                                                                                 \
    "<!-- config-table:begin (generated from core/src/config_keys.c by "                           \
    "`build/core/tests/wm_config_doc --write docs/c-core.md`; do not edit) -->\n"
#define END_MARK "<!-- config-table:end -->\n"

static void add(wm__buf *b, const char *s) {
    wm__buf_append_str(b, s);
}

static void choices(wm__buf *b, const char *list) {
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, "|");
        add(b, "`");
        wm__buf_append(b, p, n);
        add(b, "`");
        p += n;
        if (*p == '|') {
            add(b, ", ");
            p++;
        }
    }
}

static void row(wm__buf *b, const char *prefix, const wm__config_key *k) {
    char text[256];
    add(b, "| `");
    add(b, prefix);
    add(b, k->name);
    add(b, "` | ");
    if (k->doc_default)
        add(b, k->doc_default);
    else if (!k->def)
        add(b, "none");
    else if (k->type == WM__KEY_STRING || k->type == WM__KEY_CHOICE) {
        add(b, "`\"");
        add(b, k->def);
        add(b, "\"`");
    } else
        add(b, k->def);
    add(b, " | ");
    if (k->env) {
        add(b, "`");
        add(b, k->env);
        add(b, "`");
    } else {
        add(b, "—");
    }
    add(b, " | ");
    switch (k->type) {
    case WM__KEY_STRING:
        if (k->choices)
            choices(b, k->choices);
        else {
            snprintf(text, sizeof text, "%s%.0f bytes", k->min >= 1 ? "1 to " : "up to ", k->max);
            add(b, text);
        }
        break;
    case WM__KEY_CHOICE:
        choices(b, k->choices);
        break;
    case WM__KEY_BOOL:
        add(b, "true, false");
        break;
    case WM__KEY_INT:
    case WM__KEY_SIZE:
    case WM__KEY_NUMBER:
        snprintf(text, sizeof text, "%.10g to %.10g", k->min, k->max);
        add(b, text);
        break;
    case WM__KEY_MEGABYTES:
        snprintf(text, sizeof text, "%.10g to %.10g MiB", k->min, k->max);
        add(b, text);
        break;
    }
    if (k->flags & WM__KEY_REQUIRED)
        add(b, "; required");
    add(b, " | ");
    add(b, k->help);
    add(b, " |\n");
}

static void table(wm__buf *b) {
    add(b, BEGIN_MARK);
    add(b, "| key | default | variable | values | meaning |\n| --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < wm__config_n_keys; i++)
        row(b, "", &wm__config_keys[i]);
    for (size_t i = 0; i < wm__backend_n_keys; i++)
        row(b, "direct_backends[].", &wm__backend_keys[i]);
    add(b, END_MARK);
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "--check") && strcmp(argv[1], "--write"))) {
        fprintf(stderr, "usage: wm_config_doc --check|--write docs/c-core.md\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 2;
    }
    wm__buf page;
    wm__buf_init(&page);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        wm__buf_append(&page, chunk, n);
    fclose(f);
    wm__buf_append(&page, "", 1); /* NUL */
    char *begin = strstr(page.data, "<!-- config-table:begin");
    char *end = begin ? strstr(begin, END_MARK) : NULL;
    if (!end) {
        fprintf(stderr, "%s: no <!-- config-table:begin ... --> / %.*s markers\n", argv[2],
                (int)strlen(END_MARK) - 1, END_MARK);
        wm__buf_free(&page);
        return 2;
    }
    end += strlen(END_MARK);
    wm__buf generated;
    wm__buf_init(&generated);
    table(&generated);
    size_t old_len = (size_t)(end - begin);
    int rc = 0;
    if (!strcmp(argv[1], "--check")) {
        if (old_len != generated.len || memcmp(begin, generated.data, old_len) != 0) {
            fprintf(stderr,
                    "%s: the configuration table is stale; run build/core/tests/wm_config_doc "
                    "--write %s\n",
                    argv[2], argv[2]);
            rc = 1;
        }
    } else if ((f = fopen(argv[2], "wb")) != NULL) {
        fwrite(page.data, 1, (size_t)(begin - page.data), f);
        fwrite(generated.data, 1, generated.len, f);
        fputs(end, f);
        rc = fclose(f) == 0 ? 0 : 2;
    } else {
        perror(argv[2]);
        rc = 2;
    }
    wm__buf_free(&page);
    wm__buf_free(&generated);
    return rc;
}
