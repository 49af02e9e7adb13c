/* Fuzzes the metadata check of every job call (wm__metadata_parse: size, UTF-8, JSON, an object)
 * and the encoding of what it accepts: the JSON the encoder writes for accepted metadata must be
 * valid UTF-8 and read back to the same value. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 70000) /* a little over the 64 KiB limit, so the refusal is reached too */
        return -1;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    json_t *metadata = NULL;
    if (wm__metadata_parse(text, &metadata) == WM_OK && metadata) {
        if (!json_is_object(metadata))
            abort();
        /* The flags encode.c writes metadata with. */
        char *out = json_dumps(metadata, JSON_COMPACT | JSON_REAL_PRECISION(17));
        if (!out || !wm__utf8_valid(out, strlen(out)))
            abort();
        json_error_t err;
        json_t *back = json_loads(out, JSON_REJECT_DUPLICATES, &err);
        if (!back || !json_equal(back, metadata))
            abort();
        json_decref(back);
        free(out);
    }
    json_decref(metadata);
    free(text);
    return 0;
}
