/* The spool: framing, recovery from torn and corrupt segments, the cap, the cursor, slots. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "spool.h"
#include "testutil.h"

/* The path of the only (or first) segment in dir. */
static int first_segment(const char *dir, char *out, size_t size) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char best[256] = "";
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, "seg-", 4) && (!best[0] || strcmp(e->d_name, best) < 0))
            snprintf(best, sizeof best, "%s", e->d_name);
    if (d)
        closedir(d);
    snprintf(out, size, "%s/%s", dir, best);
    return best[0] ? 0 : -1;
}

static int append_text(wm__spool *sp, const char *text, uint32_t count) {
    return wm__spool_append(sp, text, strlen(text), count) == WM_OK ? 0 : 1;
}

int test_spool_append_replay_roundtrip(void) {
    const char *dir = tu_tempdir();
    wm__spool *sp;
    CHECK_OK(wm__spool_open(dir, 1 << 20, &sp));
    CHECK(append_text(sp, "{\"a\":1}\n", 1) == 0);
    CHECK(append_text(sp, "{\"b\":2}\n{\"c\":3}\n", 2) == 0);
    CHECK(wm__spool_pending(sp) == 3);
    wm__buf b;
    wm__buf_init(&b);
    uint32_t n;
    CHECK(wm__spool_peek(sp, &b, &n) && n == 1 && b.len == 8 && !memcmp(b.data, "{\"a\":1}\n", 8));
    wm__spool_consume(sp);
    CHECK(wm__spool_peek(sp, &b, &n) && n == 2);
    wm__spool_consume(sp);
    CHECK(!wm__spool_peek(sp, &b, &n));
    CHECK(wm__spool_pending(sp) == 0);
    wm__spool_close(sp);
    wm__buf_free(&b);
    tu_rmtree(dir);
    return 0;
}

static int reopen_after(const char *dir, void (*damage)(const char *seg), uint64_t *pending,
                        uint64_t *corrupt, char *first_payload) {
    wm__spool *sp;
    CHECK_OK(wm__spool_open(dir, 1 << 20, &sp));
    CHECK(append_text(sp, "{\"first\":1}\n", 1) == 0);
    CHECK(append_text(sp, "{\"second\":2}\n{\"x\":3}\n", 2) == 0);
    wm__spool_close(sp);
    char seg[512];
    CHECK(first_segment(dir, seg, sizeof seg) == 0);
    damage(seg);
    CHECK_OK(wm__spool_open(dir, 1 << 20, &sp));
    *pending = wm__spool_pending(sp);
    wm__spool_counts counts;
    wm__spool_take_counts(sp, &counts);
    *corrupt = counts.corrupt;
    wm__buf b;
    wm__buf_init(&b);
    uint32_t n;
    first_payload[0] = '\0';
    if (wm__spool_peek(sp, &b, &n))
        snprintf(first_payload, 64, "%.*s", (int)b.len, b.data);
    wm__buf_free(&b);
    wm__spool_close(sp);
    return 0;
}

static void cut_tail(const char *seg) {
    struct stat st;
    stat(seg, &st);
    if (truncate(seg, st.st_size - 5) != 0)
        abort();
}

int test_spool_truncated_segment_is_cut_with_warning(void) {
    const char *dir = tu_tempdir();
    uint64_t pending, corrupt;
    char first[64];
    CHECK(reopen_after(dir, cut_tail, &pending, &corrupt, first) == 0);
    CHECK(pending == 1 && corrupt == 1);
    CHECK(!strcmp(first, "{\"first\":1}\n"));
    char seg[512];
    CHECK(first_segment(dir, seg, sizeof seg) == 0);
    struct stat st;
    stat(seg, &st);
    CHECK(st.st_size == 8 + 16 + 12); /* magic + the first record, the torn one gone */
    tu_rmtree(dir);
    return 0;
}

static void flip_last_byte(const char *seg) {
    int fd = open(seg, O_RDWR);
    struct stat st;
    fstat(fd, &st);
    char ch;
    if (pread(fd, &ch, 1, st.st_size - 3) != 1)
        abort();
    ch ^= 0x20;
    if (pwrite(fd, &ch, 1, st.st_size - 3) != 1)
        abort();
    close(fd);
}

int test_spool_corrupt_record_is_cut(void) {
    const char *dir = tu_tempdir();
    uint64_t pending, corrupt;
    char first[64];
    CHECK(reopen_after(dir, flip_last_byte, &pending, &corrupt, first) == 0);
    CHECK(pending == 1 && corrupt == 1);
    CHECK(!strcmp(first, "{\"first\":1}\n"));
    tu_rmtree(dir);
    return 0;
}

static void overwrite_with_garbage(const char *seg) {
    FILE *f = fopen(seg, "w");
    fputs("hello, not a spool", f);
    fclose(f);
}

int test_spool_garbage_file_is_removed(void) {
    const char *dir = tu_tempdir();
    uint64_t pending, corrupt;
    char first[64];
    CHECK(reopen_after(dir, overwrite_with_garbage, &pending, &corrupt, first) == 0);
    CHECK(pending == 0 && corrupt == 1 && first[0] == '\0');
    return 0;
}

int test_spool_cap_drops_oldest(void) {
    const char *dir = tu_tempdir();
    wm__spool *sp;
    uint64_t cap = 64 * 1024;
    CHECK_OK(wm__spool_open(dir, cap, &sp));
    char record[4000];
    memset(record, 'x', sizeof record);
    record[sizeof record - 1] = '\n';
    for (int i = 0; i < 100; i++)
        CHECK_OK(wm__spool_append(sp, record, sizeof record, 1));
    CHECK(wm__spool_bytes(sp) <= cap);
    wm__spool_counts counts;
    wm__spool_take_counts(sp, &counts);
    CHECK(counts.dropped > 0);
    CHECK(counts.dropped + wm__spool_pending(sp) == 100);
    /* A batch that cannot fit even an empty spool is refused, not written. */
    char *huge = malloc(cap);
    memset(huge, 'y', cap);
    CHECK_STATUS(wm__spool_append(sp, huge, cap, 1), WM_E_TOO_LARGE);
    free(huge);
    wm__spool_close(sp);
    tu_rmtree(dir);
    return 0;
}

int test_spool_cursor_survives_reopen(void) {
    const char *dir = tu_tempdir();
    wm__spool *sp;
    CHECK_OK(wm__spool_open(dir, 1 << 20, &sp));
    CHECK(append_text(sp, "1\n", 1) == 0);
    CHECK(append_text(sp, "2\n", 1) == 0);
    CHECK(append_text(sp, "3\n", 1) == 0);
    wm__buf b;
    wm__buf_init(&b);
    uint32_t n;
    CHECK(wm__spool_peek(sp, &b, &n));
    wm__spool_consume(sp);
    wm__spool_close(sp);
    CHECK_OK(wm__spool_open(dir, 1 << 20, &sp));
    CHECK(wm__spool_pending(sp) == 2);
    CHECK(wm__spool_peek(sp, &b, &n) && b.len == 2 && b.data[0] == '2');
    wm__spool_close(sp);
    wm__buf_free(&b);
    tu_rmtree(dir);
    return 0;
}

/* A child that spools 10 events to a dead sidecar, says so on ready, waits for release to
 * close, then dies without closing its client. */
static void spool_and_die(const char *spool_base, int ready, int release) {
    char cfg[600];
    snprintf(cfg, sizeof cfg,
             "{\"sidecar\": {\"url\": \"http://127.0.0.1:9\", \"retries\": 0, \"timeout\": 1},"
             " \"spool\": {\"path\": \"%s\"}, \"log_level\": \"off\", \"flush_interval\": 0.01}",
             spool_base);
    wm_client *c;
    if (wm_client_open(cfg, &c) != WM_OK)
        _exit(10);
    for (int i = 0; i < 5; i++) {
        wm_job *j;
        wm_job_start(c, NULL, NULL, NULL, &j);
        wm_job_succeed(j, NULL);
        wm_job_destroy(j);
    }
    char code =
        wm_client_flush(c, 10) == WM_OK && wm_client_stat(c, WM_STAT_SPOOLED) == 10 ? 0 : 11;
    if (write(ready, &code, 1) != 1)
        _exit(12);
    char ch;
    while (read(release, &ch, 1) > 0) {
    }
    _exit(0);
}

int test_spool_slots_are_exclusive_and_orphans_adopted(void) {
    const char *base = tu_tempdir();
    char spool_base[300], cfg[600];
    snprintf(spool_base, sizeof spool_base, "%s/spool", base);
    snprintf(cfg, sizeof cfg,
             "{\"sidecar\": {\"url\": \"http://127.0.0.1:9\", \"retries\": 0, \"timeout\": 1},"
             " \"spool\": {\"path\": \"%s\"}, \"log_level\": \"off\"}",
             spool_base);
    wm_client *holder;
    CHECK_OK(wm_client_open(cfg, &holder)); /* slot-0 */
    tu_quiesce_before_fork(holder);
    int ready[2], release[2];
    CHECK(pipe(ready) == 0 && pipe(release) == 0);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) { /* both alive at once: they must take slot-1 and slot-2 */
        kids[k] = fork();
        if (kids[k] == 0) {
            close(release[1]);
            spool_and_die(spool_base, ready[1], release[0]);
        }
    }
    close(release[0]);
    close(ready[1]); /* a child that dies early then reads as end-of-file, not a hang */
    for (int k = 0; k < 2; k++) {
        char code = 99;
        CHECK(read(ready[0], &code, 1) == 1 && code == 0);
    }
    close(release[1]); /* let them die, leaving their slots orphaned */
    for (int k = 0; k < 2; k++) {
        int status;
        waitpid(kids[k], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    char path[400];
    struct stat st;
    snprintf(path, sizeof path, "%s/slot-2", spool_base);
    CHECK(stat(path, &st) == 0);
    wm_client *second;
    CHECK_OK(wm_client_open(cfg, &second)); /* takes the free slot-1 and adopts slot-2 */
    CHECK(wm_client_stat(second, WM_STAT_SPOOL_PENDING) == 20);
    CHECK_OK(wm_client_close(second, 0));
    CHECK_OK(wm_client_close(holder, 0));
    /* The next process finds all 20 events again, whichever slot it gets. */
    CHECK_OK(wm_client_open(cfg, &second));
    CHECK(wm_client_stat(second, WM_STAT_SPOOL_PENDING) == 20);
    CHECK_OK(wm_client_close(second, 0));
    tu_rmtree(base);
    return 0;
}

/* ---- a corrupt record loses only itself --------------------------------------------------- */

#define REC_A "{\"batch\":\"A\",\"n\":1}\n{\"batch\":\"A\",\"n\":2}\n"
#define REC_B "{\"batch\":\"B\",\"n\":1}\n{\"batch\":\"B\",\"n\":2}\n{\"batch\":\"B\",\"n\":3}\n"
#define REC_C "{\"batch\":\"C\",\"n\":1}\n"

/* The offset in the file at path of the first occurrence of text, or -1. */
static long find_in_file(const char *path, const char *text) {
    size_t len;
    char *data = tu_read_file(path, &len);
    long at = -1;
    size_t n = strlen(text);
    for (size_t i = 0; data && i + n <= len; i++)
        if (!memcmp(data + i, text, n)) {
            at = (long)i;
            break;
        }
    free(data);
    return at;
}

static void flip_bit(const char *path, long at, uint8_t mask) {
    int fd = open(path, O_RDWR);
    uint8_t ch;
    if (fd < 0 || pread(fd, &ch, 1, at) != 1)
        abort();
    ch ^= mask;
    if (pwrite(fd, &ch, 1, at) != 1)
        abort();
    close(fd);
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Peeks and consumes everything left; the payloads joined into out (size 512). */
static int drain(wm__spool *sp, char *out, uint32_t *events) {
    wm__buf b;
    wm__buf_init(&b);
    uint32_t n;
    out[0] = '\0';
    *events = 0;
    while (wm__spool_peek(sp, &b, &n)) {
        snprintf(out + strlen(out), 512 - strlen(out), "%.*s", (int)b.len, b.data);
        *events += n;
        wm__spool_consume(sp);
    }
    wm__buf_free(&b);
    return 0;
}

/* Writes A, B, C as three records of one segment; seg receives its path. */
static int write_abc(const char *dir, char *seg, size_t size) {
    wm__spool *sp;
    CHECK_OK(wm__spool_open(dir, 1 << 20, &sp));
    CHECK(append_text(sp, REC_A, 2) == 0);
    CHECK(append_text(sp, REC_B, 3) == 0);
    CHECK(append_text(sp, REC_C, 1) == 0);
    wm__spool_close(sp);
    CHECK(first_segment(dir, seg, size) == 0);
    return 0;
}

/* One bit flipped at `delta` bytes from the start of B's payload (negative: in B's header, whose
 * last fields are [u32 length][u32 count][u32 CRC] in every format version). */
static int check_b_lost_alone(long delta) {
    const char *dir = tu_tempdir();
    char seg[512], got[512];
    CHECK(write_abc(dir, seg, sizeof seg) == 0);
    long b = find_in_file(seg, "{\"batch\":\"B\"");
    long size = file_size(seg);
    CHECK(b > 0);
    flip_bit(seg, b + delta, delta == -12 ? 0x40 : 0x01);
    wm__spool *sp;
    CHECK_OK(wm__spool_open(dir, 1 << 20, &sp));
    CHECK(wm__spool_pending(sp) == 3); /* A's 2 and C's 1 */
    wm__spool_counts counts;
    wm__spool_take_counts(sp, &counts);
    CHECK(counts.corrupt == 1);
    uint32_t events;
    CHECK(drain(sp, got, &events) == 0);
    CHECK(events == 3 && !strcmp(got, REC_A REC_C));
    wm__spool_take_counts(sp, &counts);
    CHECK(counts.corrupt == 0);                            /* reported once, at open */
    CHECK(file_size(seg) == size || file_size(seg) == -1); /* not truncated (or replayed away) */
    wm__spool_close(sp);
    tu_rmtree(dir);
    return 0;
}

int test_spool_corrupt_record_mid_segment_loses_only_itself(void) {
    CHECK(check_b_lost_alone(5) == 0);   /* payload */
    CHECK(check_b_lost_alone(-1) == 0);  /* CRC */
    CHECK(check_b_lost_alone(-8) == 0);  /* event count */
    CHECK(check_b_lost_alone(-12) == 0); /* length: B would swallow C */
    return 0;
}

int test_spool_corrupt_record_leaves_later_segments_and_appends_intact(void) {
    const char *dir = tu_tempdir();
    char seg[512], got[512];
    CHECK(write_abc(dir, seg, sizeof seg) == 0);
    flip_bit(seg, find_in_file(seg, "{\"batch\":\"A\"") + 3, 0x01); /* the first record */
    wm__spool *sp;
    CHECK_OK(wm__spool_open(dir, 1 << 20, &sp));
    CHECK(append_text(sp, "{\"batch\":\"D\"}\n", 1) == 0);
    uint32_t events;
    CHECK(drain(sp, got, &events) == 0);
    CHECK(events == 5 && !strcmp(got, REC_B REC_C "{\"batch\":\"D\"}\n"));
    wm__spool_close(sp);
    tu_rmtree(dir);
    return 0;
}

int test_spool_record_damaged_while_open_loses_only_itself(void) {
    const char *dir = tu_tempdir();
    char seg[512], got[512];
    CHECK(write_abc(dir, seg, sizeof seg) == 0);
    wm__spool *sp;
    CHECK_OK(wm__spool_open(dir, 1 << 20, &sp));
    CHECK(wm__spool_pending(sp) == 6);
    flip_bit(seg, find_in_file(seg, "{\"batch\":\"B\"") + 7, 0x02); /* after it was checked */
    uint32_t events;
    CHECK(drain(sp, got, &events) == 0);
    CHECK(events == 3 && !strcmp(got, REC_A REC_C));
    CHECK(wm__spool_pending(sp) == 0);
    wm__spool_counts counts;
    wm__spool_take_counts(sp, &counts);
    CHECK(counts.corrupt == 1);
    wm__spool_close(sp);
    tu_rmtree(dir);
    return 0;
}

int test_spool_torn_tail_after_a_corrupt_record_is_truncated(void) {
    const char *dir = tu_tempdir();
    char seg[512], got[512];
    CHECK(write_abc(dir, seg, sizeof seg) == 0);
    long b = find_in_file(seg, "{\"batch\":\"B\"");
    flip_bit(seg, b + 3, 0x01);
    CHECK(truncate(seg, file_size(seg) - 4) == 0); /* C torn: nothing valid after B */
    wm__spool *sp;
    CHECK_OK(wm__spool_open(dir, 1 << 20, &sp));
    uint32_t events;
    CHECK(drain(sp, got, &events) == 0);
    CHECK(events == 2 && !strcmp(got, REC_A));
    wm__spool_close(sp);
    tu_rmtree(dir);
    return 0;
}

/* A segment of the first format (version 1, before records carried a magic), written byte by byte
 * as 0.1.0 wrote it: it must still be replayed, and resynchronised after a damaged record. */
int test_spool_reads_version_1_segments(void) {
    const char *dir = tu_tempdir();
    char path[600];
    snprintf(path, sizeof path, "%s/seg-%020d.wms", dir, 3);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    fwrite("WMSPOOL1", 1, 8, f);
    const char *payloads[] = {REC_A, REC_B, REC_C};
    const uint32_t counts_of[] = {2, 3, 1};
    for (int i = 0; i < 3; i++) {
        uint32_t len = (uint32_t)strlen(payloads[i]);
        uint32_t h[3] = {len, counts_of[i], (uint32_t)crc32(0L, (const Bytef *)payloads[i], len)};
        fwrite(h, 4, 3, f); /* little endian on every platform this runs on */
        fwrite(payloads[i], 1, len, f);
    }
    fclose(f);
    flip_bit(path, find_in_file(path, "{\"batch\":\"B\"") + 9, 0x01);
    wm__spool *sp;
    CHECK_OK(wm__spool_open(dir, 1 << 20, &sp));
    char got[512];
    uint32_t events;
    CHECK(drain(sp, got, &events) == 0);
    CHECK(events == 3 && !strcmp(got, REC_A REC_C));
    wm__spool_close(sp);
    tu_rmtree(dir);
    return 0;
}
