/* The fork generation: bumped in the child by a pthread_atfork handler. */
#include <pthread.h>
#include <stdatomic.h>

#include "fork.h"

static atomic_uint generation = 1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void bump_in_child(void) {
    atomic_fetch_add(&generation, 1);
}

static void register_handler(void) {
    pthread_atfork(NULL, NULL, bump_in_child);
}

unsigned wm__fork_generation(void) {
    pthread_once(&atfork_once, register_handler);
    return atomic_load_explicit(&generation, memory_order_relaxed);
}
