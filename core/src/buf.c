/* A growable byte buffer and JSON text writers; the encoder builds every event with it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void wm__buf_init(wm__buf *b) {
    memset(b, 0, sizeof *b);
}

void wm__buf_free(wm__buf *b) {
    free(b->data);
    wm__buf_init(b);
}

void wm__buf_reset(wm__buf *b) {
    b->len = 0;
    b->failed = false;
}

bool wm__buf_reserve(wm__buf *b, size_t extra) {
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) {
        b->failed = true;
        return false;
    }
    b->data = data;
    b->cap = cap;
    return true;
}

void wm__buf_append(wm__buf *b, const void *data, size_t len) {
    if (!wm__buf_reserve(b, len))
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void wm__buf_append_str(wm__buf *b, const char *s) {
    wm__buf_append(b, s, strlen(s));
}

void wm__buf_append_char(wm__buf *b, char c) {
    wm__buf_append(b, &c, 1);
}

void wm__buf_append_json_string(wm__buf *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX. */
    if (!wm__buf_reserve(b, len * 6 + 2))
        return;
    char *out = b->data + b->len;
    *out++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            *out++ = '\\';
            *out++ = '"';
            break;
        case '\\':
            *out++ = '\\';
            *out++ = '\\';
            break;
        case '\n':
            *out++ = '\\';
            *out++ = 'n';
            break;
        case '\r':
            *out++ = '\\';
            *out++ = 'r';
            break;
        case '\t':
            *out++ = '\\';
            *out++ = 't';
            break;
        default:
            if (c < 0x20) {
                memcpy(out, "\\u00", 4);
                out[4] = hex[c >> 4];
                out[5] = hex[c & 15];
                out += 6;
            } else {
                *out++ = (char)c;
            }
        }
    }
    *out++ = '"';
    b->len = (size_t)(out - b->data);
    b->data[b->len] = '\0';
}

void wm__buf_append_u64(wm__buf *b, uint64_t v) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    wm__buf_append(b, tmp, (size_t)n);
}

/* Most figures the core writes are whole microseconds (durations, CPU) or short fractions: when
 * v is exactly the double nearest to some n / 1e6, "n / 1e6" in decimal reads back as v (IEEE
 * division rounds correctly), and writing it takes integer formatting instead of printf("%g") and
 * strtod(), the delivery thread's largest costs. */
static bool append_micro_decimal(wm__buf *b, double v) {
    if (!(fabs(v) < 9e9)) /* n = v * 1e6 must stay below 2^53 to be exact */
        return false;
    long long n = llround(v * 1e6);
    if ((double)n / 1e6 != v)
        return false;
    char tmp[32];
    char *end = tmp + sizeof tmp, *p = end;
    unsigned long long mag = n < 0 ? (unsigned long long)-n : (unsigned long long)n;
    unsigned long long frac = mag % 1000000, whole = mag / 1000000;
    if (frac) {
        int digits = 6;
        while (frac % 10 == 0) { /* no trailing zeros */
            frac /= 10;
            digits--;
        }
        for (; digits > 0; digits--, frac /= 10)
            *--p = (char)('0' + frac % 10);
        *--p = '.';
    }
    do {
        *--p = (char)('0' + whole % 10);
        whole /= 10;
    } while (whole);
    if (n < 0)
        *--p = '-';
    wm__buf_append(b, p, (size_t)(end - p));
    return true;
}

void wm__buf_append_double(wm__buf *b, double v) {
    char tmp[40];
    if (!isfinite(v))
        v = 0;
    if (append_micro_decimal(b, v))
        return;
    /* The shortest of %.15g/%.16g/%.17g that reads back as the same double. */
    int n = 0;
    for (int precision = 15; precision <= 17; precision++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", precision, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    wm__buf_append(b, tmp, (size_t)n);
}
