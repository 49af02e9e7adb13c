/* UUIDv7 with a per-thread xoshiro256** generator seeded from getrandom(): ids cost a few
 * dozen instructions on the application thread instead of a syscall each. */
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "fork.h"
#include "uuid.h"

static _Thread_local uint64_t rng_state[4];
/* Generation the thread seeded at (0 = never); after a fork the child re-seeds instead of repeating
 * the parent's ids. */
static _Thread_local unsigned rng_seeded_generation;

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static uint64_t next_random(void) {
    uint64_t *s = rng_state;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void reseed(void) {
    if (getrandom(rng_state, sizeof rng_state, 0) != (ssize_t)sizeof rng_state) {
        /* No entropy source: mix time, pid and addresses; ids stay unique in practice. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        rng_state[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
        rng_state[1] = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull;
        rng_state[2] = (uint64_t)(uintptr_t)&ts;
        rng_state[3] = (uint64_t)(uintptr_t)rng_state ^ 0xD1B54A32D192ED03ull;
    }
    rng_seeded_generation = wm__fork_generation();
}

void wm__uuid7(uint8_t out[16], int64_t unix_ms) {
    if (rng_seeded_generation != wm__fork_generation())
        reseed();
    uint64_t a = next_random(), b = next_random();
    uint64_t ms = (uint64_t)unix_ms;
    out[0] = (uint8_t)(ms >> 40);
    out[1] = (uint8_t)(ms >> 32);
    out[2] = (uint8_t)(ms >> 24);
    out[3] = (uint8_t)(ms >> 16);
    out[4] = (uint8_t)(ms >> 8);
    out[5] = (uint8_t)ms;
    memcpy(out + 6, &a, 2);
    memcpy(out + 8, &b, 8);
    out[6] = (uint8_t)(0x70 | (out[6] & 0x0F));
    out[8] = (uint8_t)(0x80 | (out[8] & 0x3F));
}

void wm__uuid_format(const uint8_t id[16], char out[WM_UUID_TEXT_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[id[i] >> 4];
        *p++ = hex[id[i] & 15];
    }
    *p = '\0';
}
