/* The durable spool (see spool.h for the on-disk format). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "fsutil.h"
#include "log.h"
#include "spool.h"
#include "status.h"

#define MAGIC "WMSPOOL1"
#define MAGIC_LEN 8
#define HEADER_LEN 12
#define MAX_RECORD (64u * 1024u * 1024u)
#define SEGMENT_MAX (4ull * 1024ull * 1024ull)

typedef struct segment {
    uint64_t number;
    uint64_t bytes;  /* file size */
    uint64_t events; /* events in records not yet replayed */
} segment;

struct wm__spool {
    pthread_mutex_t mu;
    char *dir;
    uint64_t max_bytes;
    uint64_t segment_limit;
    segment *segs; /* oldest first; the last one is written to */
    size_t n_segs, cap_segs;
    uint64_t next_number;
    int write_fd;
    int read_fd; /* the oldest segment, opened lazily */
    uint64_t read_number;
    uint64_t read_offset;
    uint64_t peeked_len; /* bytes of the record returned by the last peek, 0 if none */
    uint32_t peeked_count;
    uint64_t total_bytes;
    uint64_t pending_events;
    wm__spool_counts counts;
};

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void segment_path(const wm__spool *sp, uint64_t number, char *out, size_t size) {
    snprintf(out, size, "%s/seg-%020" PRIu64 ".wms", sp->dir, number);
}

static bool push_segment(wm__spool *sp, segment s) {
    if (sp->n_segs == sp->cap_segs) {
        size_t cap = sp->cap_segs ? sp->cap_segs * 2 : 16;
        segment *n = realloc(sp->segs, cap * sizeof *n);
        if (!n)
            return false;
        sp->segs = n;
        sp->cap_segs = cap;
    }
    sp->segs[sp->n_segs++] = s;
    return true;
}

/* Reads every record of a segment; truncates at the first bad one. Returns false when the file
 * was unusable and removed. from_offset: records before it are not counted (already replayed). */
static bool scan_segment(wm__spool *sp, const char *path, uint64_t from_offset, segment *out) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        wm__log(WM__LOG_WARN, "spool: cannot open %s: %s; skipping it", path, strerror(errno));
        return false;
    }
    struct stat st;
    fstat(fd, &st);
    uint64_t size = (uint64_t)st.st_size;
    char magic[MAGIC_LEN];
    if (size < MAGIC_LEN || pread(fd, magic, MAGIC_LEN, 0) != MAGIC_LEN ||
        memcmp(magic, MAGIC, MAGIC_LEN) != 0) {
        wm__log(WM__LOG_WARN, "spool: %s has no valid header (%" PRIu64 " bytes); removing it",
                path, size);
        if (size > 0)
            sp->counts.corrupt++;
        close(fd);
        unlink(path);
        return false;
    }
    uint64_t off = MAGIC_LEN, events = 0;
    void *payload = NULL;
    size_t payload_cap = 0;
    const char *why = NULL;
    while (off < size) {
        uint8_t h[HEADER_LEN];
        if (size - off < HEADER_LEN || pread(fd, h, HEADER_LEN, (off_t)off) != HEADER_LEN) {
            why = "torn record header";
            break;
        }
        uint32_t len = get_u32(h), count = get_u32(h + 4), crc = get_u32(h + 8);
        if (len == 0 || len > MAX_RECORD || count == 0) {
            why = "bad record header";
            break;
        }
        if (size - off - HEADER_LEN < len) {
            why = "torn record payload";
            break;
        }
        if (len > payload_cap) {
            void *n = realloc(payload, len);
            if (!n) {
                why = "out of memory while checking";
                break;
            }
            payload = n;
            payload_cap = len;
        }
        if (pread(fd, payload, len, (off_t)(off + HEADER_LEN)) != (ssize_t)len ||
            (uint32_t)crc32(0L, payload, len) != crc) {
            why = "checksum mismatch";
            break;
        }
        if (off >= from_offset)
            events += count;
        off += HEADER_LEN + len;
    }
    free(payload);
    if (why) {
        wm__log(WM__LOG_WARN, "spool: %s at offset %" PRIu64 " of %s; truncating %" PRIu64 " bytes",
                why, off, path, size - off);
        sp->counts.corrupt++;
        if (ftruncate(fd, (off_t)off) == 0)
            fsync(fd);
        size = off;
    }
    close(fd);
    out->bytes = size;
    out->events = events;
    return true;
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Segment numbers found in dir, sorted; caller frees. */
static uint64_t *list_segments(const char *dir, size_t *n_out) {
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    uint64_t *nums = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t num;
        char tail[8];
        if (sscanf(e->d_name, "seg-%20" SCNu64 ".%7s", &num, tail) == 2 && !strcmp(tail, "wms")) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                uint64_t *m = realloc(nums, cap * sizeof *m);
                if (!m)
                    break;
                nums = m;
            }
            nums[n++] = num;
        }
    }
    closedir(d);
    if (n)
        qsort(nums, n, sizeof *nums, compare_u64);
    *n_out = n;
    return nums;
}

static void read_cursor(wm__spool *sp, uint64_t *number, uint64_t *offset) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/cursor", sp->dir);
    *number = 0;
    *offset = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fscanf(f, "%" SCNu64 " %" SCNu64, number, offset) != 2)
        *number = *offset = 0;
    fclose(f);
}

/* Written with rename for atomicity but not fsync'd: a lost cursor only means duplicates, which
 * every receiver removes by event_id. */
static void write_cursor(wm__spool *sp) {
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof path, "%s/cursor", sp->dir);
    snprintf(tmp, sizeof tmp, "%s/cursor.tmp", sp->dir);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "%" PRIu64 " %" PRIu64 "\n", sp->read_number, sp->read_offset);
    if (fclose(f) == 0)
        rename(tmp, path);
}

static wm_status start_write_segment(wm__spool *sp) {
    char path[PATH_MAX];
    uint64_t number = sp->next_number++;
    segment_path(sp, number, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return wm__fail(WM_E_IO, "spool: cannot create %s: %s", path, strerror(errno));
    if (write(fd, MAGIC, MAGIC_LEN) != MAGIC_LEN || fsync(fd) != 0) {
        int err = errno;
        close(fd);
        unlink(path);
        return wm__fail(WM_E_IO, "spool: cannot write %s: %s", path, strerror(err));
    }
    wm__fsync_dir(sp->dir);
    if (!push_segment(sp, (segment){number, MAGIC_LEN, 0})) {
        close(fd);
        unlink(path);
        return wm__fail(WM_E_NOMEM, "spool: out of memory");
    }
    if (sp->write_fd >= 0)
        close(sp->write_fd);
    sp->write_fd = fd;
    sp->total_bytes += MAGIC_LEN;
    return WM_OK;
}

wm_status wm__spool_open(const char *dir, uint64_t max_bytes, wm__spool **out) {
    *out = NULL;
    if (wm__mkdirs(dir, 0700) != 0)
        return wm__fail(WM_E_IO, "spool: cannot create directory %s: %s", dir, strerror(errno));
    wm__spool *sp = calloc(1, sizeof *sp);
    if (!sp || !(sp->dir = strdup(dir))) {
        free(sp);
        return wm__fail(WM_E_NOMEM, "spool: out of memory");
    }
    pthread_mutex_init(&sp->mu, NULL);
    sp->max_bytes = max_bytes;
    sp->segment_limit = max_bytes / 4 < SEGMENT_MAX ? max_bytes / 4 : SEGMENT_MAX;
    sp->write_fd = sp->read_fd = -1;
    sp->next_number = 1;

    uint64_t cursor_number, cursor_offset;
    read_cursor(sp, &cursor_number, &cursor_offset);
    size_t n;
    uint64_t *nums = list_segments(dir, &n);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        segment_path(sp, nums[i], path, sizeof path);
        segment s = {nums[i], 0, 0};
        bool first = sp->n_segs == 0;
        uint64_t from = first && nums[i] == cursor_number ? cursor_offset : 0;
        if (!scan_segment(sp, path, from, &s))
            continue;
        if (first) {
            sp->read_number = s.number;
            sp->read_offset = from > MAGIC_LEN && from <= s.bytes ? from : MAGIC_LEN;
        }
        push_segment(sp, s);
        sp->total_bytes += s.bytes;
        sp->pending_events += s.events;
        sp->next_number = nums[i] + 1;
    }
    free(nums);
    wm_status st = start_write_segment(sp);
    if (st != WM_OK) {
        wm__spool_close(sp);
        return st;
    }
    if (sp->n_segs == 1) {
        sp->read_number = sp->segs[0].number;
        sp->read_offset = MAGIC_LEN;
    }
    if (sp->pending_events)
        wm__log(WM__LOG_INFO, "spool: %s holds %" PRIu64 " events to replay", dir,
                sp->pending_events);
    *out = sp;
    return WM_OK;
}

void wm__spool_adopt(wm__spool *sp, const char *other_dir) {
    size_t n;
    uint64_t *nums = list_segments(other_dir, &n);
    pthread_mutex_lock(&sp->mu);
    for (size_t i = 0; i < n; i++) {
        char from[PATH_MAX], to[PATH_MAX];
        snprintf(from, sizeof from, "%s/seg-%020" PRIu64 ".wms", other_dir, nums[i]);
        /* Adopted segments go before the write segment, which keeps the highest number. */
        segment w = sp->segs[sp->n_segs - 1];
        uint64_t number = sp->next_number++;
        segment_path(sp, number, to, sizeof to);
        if (rename(from, to) != 0) {
            wm__log(WM__LOG_WARN, "spool: cannot adopt %s: %s", from, strerror(errno));
            continue;
        }
        segment s = {number, 0, 0};
        if (!scan_segment(sp, to, 0, &s))
            continue;
        /* Keep the write segment last in the list: insert before it. */
        if (!push_segment(sp, w))
            continue;
        sp->segs[sp->n_segs - 2] = s;
        sp->total_bytes += s.bytes;
        sp->pending_events += s.events;
        wm__log(WM__LOG_INFO, "spool: adopted %" PRIu64 " events from %s", s.events, other_dir);
    }
    char cursor[PATH_MAX];
    snprintf(cursor, sizeof cursor, "%s/cursor", other_dir);
    unlink(cursor);
    pthread_mutex_unlock(&sp->mu);
    free(nums);
}

static void close_reader(wm__spool *sp) {
    if (sp->read_fd >= 0)
        close(sp->read_fd);
    sp->read_fd = -1;
    sp->peeked_len = 0;
}

/* Deletes the oldest segment (never the write segment). */
static void remove_oldest(wm__spool *sp, bool dropped) {
    segment s = sp->segs[0];
    char path[PATH_MAX];
    segment_path(sp, s.number, path, sizeof path);
    unlink(path);
    if (dropped) {
        sp->counts.dropped += s.events;
        wm__log(WM__LOG_WARN, "spool: size cap reached, dropped the oldest %" PRIu64 " events (%s)",
                s.events, path);
    }
    sp->total_bytes -= s.bytes;
    sp->pending_events -= s.events;
    memmove(sp->segs, sp->segs + 1, (sp->n_segs - 1) * sizeof *sp->segs);
    sp->n_segs--;
    close_reader(sp);
    sp->read_number = sp->segs[0].number;
    sp->read_offset = MAGIC_LEN;
    write_cursor(sp);
}

wm_status wm__spool_append(wm__spool *sp, const char *payload, size_t len, uint32_t count) {
    uint64_t need = HEADER_LEN + (uint64_t)len;
    if (len == 0 || len > MAX_RECORD || need + 2 * MAGIC_LEN > sp->max_bytes) {
        pthread_mutex_lock(&sp->mu);
        sp->counts.dropped += count;
        pthread_mutex_unlock(&sp->mu);
        return wm__fail(WM_E_TOO_LARGE,
                        "spool: a batch of %zu bytes cannot fit the spool cap of %" PRIu64 " bytes",
                        len, sp->max_bytes);
    }
    pthread_mutex_lock(&sp->mu);
    wm_status st = WM_OK;
    segment *w = &sp->segs[sp->n_segs - 1];
    if (w->bytes + need > sp->segment_limit && w->bytes > MAGIC_LEN) {
        st = start_write_segment(sp);
        if (st != WM_OK)
            goto out;
    }
    while (sp->total_bytes + need > sp->max_bytes && sp->n_segs > 1)
        remove_oldest(sp, true);
    uint8_t h[HEADER_LEN];
    put_u32(h, (uint32_t)len);
    put_u32(h + 4, count);
    put_u32(h + 8, (uint32_t)crc32(0L, (const Bytef *)payload, (uInt)len));
    struct iovec iov[2] = {{h, HEADER_LEN}, {(void *)payload, len}};
    w = &sp->segs[sp->n_segs - 1];
    ssize_t n = writev(sp->write_fd, iov, 2);
    if (n != (ssize_t)need || fdatasync(sp->write_fd) != 0) {
        int err = n < 0 ? errno : (n != (ssize_t)need ? ENOSPC : errno);
        /* Leave no partial record behind: cut the file back to where it was. */
        if (ftruncate(sp->write_fd, (off_t)w->bytes) != 0)
            wm__log(WM__LOG_ERROR, "spool: cannot truncate after a failed write: %s",
                    strerror(errno));
        st = wm__fail(WM_E_IO, "spool: cannot write to %s: %s", sp->dir, strerror(err));
        goto out;
    }
    w->bytes += need;
    w->events += count;
    sp->total_bytes += need;
    sp->pending_events += count;
out:
    pthread_mutex_unlock(&sp->mu);
    return st;
}

bool wm__spool_peek(wm__spool *sp, wm__buf *payload, uint32_t *count) {
    pthread_mutex_lock(&sp->mu);
    bool found = false;
    sp->peeked_len = 0;
    while (sp->n_segs > 0) {
        segment *s = &sp->segs[0];
        if (sp->read_number != s->number) {
            close_reader(sp);
            sp->read_number = s->number;
            sp->read_offset = MAGIC_LEN;
        }
        if (sp->read_offset >= s->bytes) {
            if (sp->n_segs == 1)
                break; /* the write segment, fully replayed */
            remove_oldest(sp, false);
            continue;
        }
        if (sp->read_fd < 0) {
            char path[PATH_MAX];
            segment_path(sp, s->number, path, sizeof path);
            sp->read_fd = open(path, O_RDONLY | O_CLOEXEC);
            if (sp->read_fd < 0) {
                wm__log(WM__LOG_ERROR, "spool: cannot open %s: %s; skipping it", path,
                        strerror(errno));
                s->bytes = sp->read_offset;
                continue;
            }
        }
        uint8_t h[HEADER_LEN];
        uint32_t len = 0;
        bool ok = pread(sp->read_fd, h, HEADER_LEN, (off_t)sp->read_offset) == HEADER_LEN;
        if (ok) {
            len = get_u32(h);
            ok = len > 0 && len <= MAX_RECORD && sp->read_offset + HEADER_LEN + len <= s->bytes;
        }
        if (ok) {
            wm__buf_reset(payload);
            ok = wm__buf_reserve(payload, len) &&
                 pread(sp->read_fd, payload->data, len, (off_t)(sp->read_offset + HEADER_LEN)) ==
                     (ssize_t)len &&
                 (uint32_t)crc32(0L, (const Bytef *)payload->data, len) == get_u32(h + 8);
        }
        if (!ok) {
            /* Damaged since it was checked at open: skip the rest of this segment. */
            wm__log(WM__LOG_WARN,
                    "spool: unreadable record at offset %" PRIu64 " of segment %" PRIu64
                    "; skipping the rest",
                    sp->read_offset, s->number);
            sp->counts.corrupt++;
            sp->pending_events -= s->events;
            s->events = 0;
            sp->read_offset = s->bytes;
            continue;
        }
        payload->len = len;
        *count = get_u32(h + 4);
        sp->peeked_len = HEADER_LEN + len;
        sp->peeked_count = *count;
        found = true;
        break;
    }
    pthread_mutex_unlock(&sp->mu);
    return found;
}

void wm__spool_consume(wm__spool *sp) {
    pthread_mutex_lock(&sp->mu);
    if (sp->peeked_len && sp->n_segs > 0 && sp->segs[0].number == sp->read_number) {
        sp->read_offset += sp->peeked_len;
        sp->segs[0].events -= sp->peeked_count;
        sp->pending_events -= sp->peeked_count;
        sp->peeked_len = 0;
        if (sp->read_offset >= sp->segs[0].bytes && sp->n_segs > 1)
            remove_oldest(sp, false);
        else
            write_cursor(sp);
    }
    pthread_mutex_unlock(&sp->mu);
}

uint64_t wm__spool_bytes(wm__spool *sp) {
    pthread_mutex_lock(&sp->mu);
    uint64_t v = sp->total_bytes;
    pthread_mutex_unlock(&sp->mu);
    return v;
}

uint64_t wm__spool_pending(wm__spool *sp) {
    pthread_mutex_lock(&sp->mu);
    uint64_t v = sp->pending_events;
    pthread_mutex_unlock(&sp->mu);
    return v;
}

void wm__spool_take_counts(wm__spool *sp, wm__spool_counts *out) {
    pthread_mutex_lock(&sp->mu);
    *out = sp->counts;
    memset(&sp->counts, 0, sizeof sp->counts);
    pthread_mutex_unlock(&sp->mu);
}

void wm__spool_close(wm__spool *sp) {
    if (!sp)
        return;
    close_reader(sp);
    if (sp->write_fd >= 0)
        close(sp->write_fd);
    /* An empty write segment is not worth keeping. */
    if (sp->n_segs > 0 && sp->segs[sp->n_segs - 1].bytes == MAGIC_LEN) {
        char path[PATH_MAX];
        segment_path(sp, sp->segs[sp->n_segs - 1].number, path, sizeof path);
        unlink(path);
    }
    pthread_mutex_destroy(&sp->mu);
    free(sp->segs);
    free(sp->dir);
    free(sp);
}
