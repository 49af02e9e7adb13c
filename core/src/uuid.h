/* Internal: UUIDv7 identifiers, generated cheaply on the caller's thread. */
#ifndef WM_UUID_H
#define WM_UUID_H

#include <stdint.h>

#define WM_UUID_TEXT_LEN 36

/* A UUIDv7 (RFC 9562) for unix_ms: 48-bit time, version, 74 random bits, variant. */
void wm__uuid7(uint8_t out[16], int64_t unix_ms);
/* Lower-case, hyphenated text; out must hold 37 bytes (NUL-terminated). */
void wm__uuid_format(const uint8_t id[16], char out[WM_UUID_TEXT_LEN + 1]);

#endif
