/* Delivery bounds: requests cut by bytes as well as count, and close bounded by its timeout even
 * when the sidecar accepts connections and never answers. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "testutil.h"
#include "transport.h"

int test_ndjson_prefix_cuts_whole_lines_by_bytes_and_count(void) {
    const char *text = "aaaa\nbb\ncccccc\nd\n"; /* lines of 5, 3, 7 and 2 bytes */
    size_t len = strlen(text);
    uint32_t lines;
    CHECK(wm__ndjson_prefix(text, len, 8, UINT32_MAX, &lines) == 8 && lines == 2);
    CHECK(wm__ndjson_prefix(text, len, 14, UINT32_MAX, &lines) == 8 && lines == 2);
    CHECK(wm__ndjson_prefix(text, len, 15, UINT32_MAX, &lines) == 15 && lines == 3);
    CHECK(wm__ndjson_prefix(text, len, SIZE_MAX, 2, &lines) == 8 && lines == 2);
    CHECK(wm__ndjson_prefix(text, len, SIZE_MAX, UINT32_MAX, &lines) == len && lines == 4);
    /* A line longer than the cap goes alone, never split and never skipped. */
    CHECK(wm__ndjson_prefix(text + 8, len - 8, 3, UINT32_MAX, &lines) == 7 && lines == 1);
    return 0;
}

/* A listener that never accepts: the kernel completes the TCP handshake, nobody ever answers. */
static int blackhole(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &alen) != 0)
        return -1;
    *port = ntohs(addr.sin_port);
    return fd;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int test_close_with_a_hung_sidecar_is_bounded_and_spools_the_batch_in_flight(void) {
    int port;
    int hole = blackhole(&port);
    CHECK(hole >= 0);
    const char *base = tu_tempdir();
    char config[1024];
    snprintf(config, sizeof config,
             "{\"sidecar\": {\"url\": \"http://127.0.0.1:%d\", \"timeout\": 30, \"retries\": 3}, "
             "\"spool\": {\"path\": \"%s/spool\"}, \"flush_interval\": 0.01, "
             "\"log_level\": \"off\"}",
             port, base);
    wm_client *c;
    CHECK_OK(wm_client_open(config, &c));
    for (int i = 0; i < 50; i++) {
        wm_job *j;
        CHECK_OK(wm_job_start(c, NULL, NULL, NULL, &j));
        CHECK_OK(wm_job_succeed(j, NULL));
        wm_job_destroy(j);
        usleep(2000); /* several batches: one in flight, more queued behind it */
    }
    double started = now_s();
    CHECK_STATUS(wm_client_close(c, 0.5), WM_E_TIMEOUT);
    double took = now_s() - started;
    /* The documented bound is the timeout + 0.5 s; allow more on a loaded machine. Before the
     * fix the request in flight held close for 4 x 30 s. */
    if (took > 3.0) {
        fprintf(stderr, "close took %.2fs\n", took);
        return 1;
    }
    /* Everything is on the spool for the next start: open again (the sidecar still hung). */
    CHECK_OK(wm_client_open(config, &c));
    uint64_t pending = wm_client_stat(c, WM_STAT_SPOOL_PENDING);
    CHECK_STATUS(wm_client_close(c, 0.2), WM_OK);
    close(hole);
    tu_rmtree(base);
    if (pending != 100) {
        fprintf(stderr, "%llu of 100 events on the spool\n", (unsigned long long)pending);
        return 1;
    }
    return 0;
}
