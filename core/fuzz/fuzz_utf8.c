/* Fuzzes the UTF-8 checks against a second, deliberately plain decoder (Unicode 15, table 3-7):
 * wm__utf8_valid must agree with it on every input, and wm__utf8_cut must return the longest
 * prefix within the limit that ends on a character boundary. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* Length of the well-formed sequence at s[0..n), or 0 when there is none. */
static size_t reference_char(const uint8_t *s, size_t n) {
    uint8_t b = s[0];
    if (b < 0x80)
        return 1;
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF)
        len = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        if (b == 0xE0)
            lo = 0xA0; /* no overlongs */
        if (b == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        if (b == 0xF0)
            lo = 0x90;
        if (b == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

static bool reference_valid(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t len = reference_char(s + i, n - i);
        if (!len)
            return false;
        i += len;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size heap copy, so ASan sees any read past the end. */
    char *s = malloc(size ? size : 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    bool valid = wm__utf8_valid(s, size);
    if (valid != reference_valid(data, size))
        abort();
    if (valid) {
        size_t max = size ? data[0] % (size + 1) : 0;
        size_t cut = wm__utf8_cut(s, size, max);
        if (cut > max || !reference_valid(data, cut))
            abort();
        /* The longest such prefix: the next character would pass the limit. */
        if (cut < size && cut + reference_char(data + cut, size - cut) <= max)
            abort();
    }
    free(s);
    return 0;
}
