/* Internal: UTF-8 checks for strings coming from callers. */
#ifndef WM_UTF8_H
#define WM_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool wm__utf8_valid(const char *s, size_t len);
/* The largest n <= max such that s[0..n) ends on a character boundary (s is valid UTF-8). */
size_t wm__utf8_cut(const char *s, size_t len, size_t max);

#endif
