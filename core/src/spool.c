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
#include "spool_format.h"
#include "status.h"

#define MAGIC_LEN WM__SEG_MAGIC_LEN
#define MAX_RECORD WM__REC_MAX_PAYLOAD
#define SEGMENT_MAX (4ull * 1024ull * 1024ull)
/* A segment file is read whole at open; one we could have written is at most this big. */
#define SEGMENT_FILE_MAX (SEGMENT_MAX + WM__REC_HEADER_MAX + MAX_RECORD)

/* Damaged bytes of a segment with a valid record after them: replay steps over them. */
typedef struct gap {
    uint64_t start, end;
} gap;

typedef struct segment {
    uint64_t number;
    uint64_t bytes;  /* file size */
    uint64_t events; /* events in records not yet replayed */
    int version;     /* its format (spool_format.h): 2, or 1 for segments written before 0.2 */
    gap *gaps;       /* oldest first; owned */
    size_t n_gaps;
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

static bool add_gap(segment *s, uint64_t start, uint64_t end) {
    gap *n = realloc(s->gaps, (s->n_gaps + 1) * sizeof *n);
    if (!n)
        return false;
    s->gaps = n;
    s->gaps[s->n_gaps++] = (gap){start, end};
    return true;
}

static void free_segment(segment *s) {
    free(s->gaps);
    s->gaps = NULL;
    s->n_gaps = 0;
}

/* Walks the records of data[from..size) (a segment's bytes): each damaged stretch that has a valid
 * record after it becomes a gap, logged and counted. Returns the events of the records at or after
 * count_from; *valid_end is where the last valid record ends (the rest, if any, has no valid
 * record: a torn tail). */
static uint64_t walk_records(wm__spool *sp, const char *path, segment *s, const uint8_t *data,
                             uint64_t size, uint64_t from, uint64_t count_from,
                             uint64_t *valid_end) {
    uint64_t off = from, events = 0;
    *valid_end = from;
    while (off < size) {
        wm__segfmt_header h;
        size_t len = wm__segfmt_record_at(s->version, data, (size_t)size, (size_t)off, &h);
        if (!len) {
            uint64_t next = wm__segfmt_resync(s->version, data, (size_t)size, (size_t)off + 1);
            if (next >= size)
                break; /* nothing valid after it: a torn tail, the caller's to handle */
            wm__log(WM__LOG_WARN,
                    "spool: corrupt record at offset %" PRIu64 " of %s; skipped %" PRIu64
                    " bytes, resynchronised on the record at offset %" PRIu64,
                    off, path, next - off, next);
            sp->counts.corrupt++;
            sp->counts.skipped_bytes += next - off;
            if (!add_gap(s, off, next))
                break; /* out of memory: treat the rest as torn */
            off = next;
            continue;
        }
        if (off >= count_from)
            events += h.count;
        off += len;
        *valid_end = off;
    }
    return events;
}

/* Reads the whole file (at most SEGMENT_FILE_MAX bytes); NULL when it cannot. */
static uint8_t *read_segment(int fd, uint64_t size) {
    uint8_t *data = malloc(size ? size : 1);
    if (!data)
        return NULL;
    for (uint64_t got = 0; got < size;) {
        ssize_t n = pread(fd, data + got, size - got, (off_t)got);
        if (n <= 0) {
            free(data);
            return NULL;
        }
        got += (uint64_t)n;
    }
    return data;
}

/* Reads every record of a segment: a corrupt record with valid ones after it is skipped (a gap),
 * bad bytes with none after them (a torn tail) are truncated. Returns false when the file was
 * unusable and removed. from_offset: records before it are not counted (already replayed). */
static bool scan_segment(wm__spool *sp, const char *path, uint64_t from_offset, segment *out) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        wm__log(WM__LOG_WARN, "spool: cannot open %s: %s; skipping it", path, strerror(errno));
        return false;
    }
    struct stat st;
    uint64_t size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    uint8_t magic[MAGIC_LEN];
    out->version = 0;
    if (size >= MAGIC_LEN && pread(fd, magic, MAGIC_LEN, 0) == MAGIC_LEN)
        out->version = wm__segfmt_version(magic);
    if (!out->version) {
        wm__log(WM__LOG_WARN, "spool: %s has no valid header (%" PRIu64 " bytes); removing it",
                path, size);
        if (size > 0)
            sp->counts.corrupt++;
        close(fd);
        unlink(path);
        return false;
    }
    uint64_t readable = size < SEGMENT_FILE_MAX ? size : SEGMENT_FILE_MAX;
    uint8_t *data = read_segment(fd, readable);
    uint64_t valid_end = size, events = 0;
    if (data)
        events = walk_records(sp, path, out, data, readable, MAGIC_LEN, from_offset, &valid_end);
    else /* keep it whole: replay checks every record again */
        wm__log(WM__LOG_ERROR, "spool: cannot read %s to check it: %s", path, strerror(errno));
    free(data);
    if (valid_end < size) {
        wm__log(WM__LOG_WARN,
                "spool: torn or corrupt tail at offset %" PRIu64 " of %s (no valid record after "
                "it); truncating %" PRIu64 " bytes",
                valid_end, path, size - valid_end);
        sp->counts.corrupt++;
        if (ftruncate(fd, (off_t)valid_end) == 0)
            fsync(fd);
        size = valid_end;
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
    if (write(fd, wm__segfmt_magic(WM__SEG_VERSION), MAGIC_LEN) != MAGIC_LEN || fsync(fd) != 0) {
        int err = errno;
        close(fd);
        unlink(path);
        return wm__fail(WM_E_IO, "spool: cannot write %s: %s", path, strerror(err));
    }
    wm__fsync_dir(sp->dir);
    if (!push_segment(sp, (segment){number, MAGIC_LEN, 0, WM__SEG_VERSION, NULL, 0})) {
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
        segment s = {.number = nums[i]};
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
        segment s = {.number = number};
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
    free_segment(&s);
    memmove(sp->segs, sp->segs + 1, (sp->n_segs - 1) * sizeof *sp->segs);
    sp->n_segs--;
    close_reader(sp);
    sp->read_number = sp->segs[0].number;
    sp->read_offset = MAGIC_LEN;
    write_cursor(sp);
}

wm_status wm__spool_append(wm__spool *sp, const char *payload, size_t len, uint32_t count) {
    uint8_t h[WM__REC_HEADER_MAX];
    uint64_t need = WM__REC_HEADER_MAX + (uint64_t)len;
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
    size_t header_len = wm__segfmt_encode_header(h, payload, (uint32_t)len, count);
    struct iovec iov[2] = {{h, header_len}, {(void *)payload, len}};
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

/* Moves *offset past a gap found at open that holds it; false when none does. */
static bool step_over_gap(const segment *s, uint64_t *offset) {
    for (size_t i = 0; i < s->n_gaps; i++)
        if (s->gaps[i].start <= *offset && *offset < s->gaps[i].end) {
            *offset = s->gaps[i].end;
            return true;
        }
    return false;
}

/* The record at the read offset of the oldest segment went bad after open: walk the rest again,
 * making each damaged stretch a gap (a bad tail too: appends may follow it in the write
 * segment) and recounting the events still to replay. */
static void rescan_after_damage(wm__spool *sp, segment *s) {
    char path[PATH_MAX];
    segment_path(sp, s->number, path, sizeof path);
    uint8_t *data = s->bytes <= SEGMENT_FILE_MAX ? read_segment(sp->read_fd, s->bytes) : NULL;
    uint64_t valid_end = sp->read_offset, events = 0;
    if (data)
        events =
            walk_records(sp, path, s, data, s->bytes, sp->read_offset, sp->read_offset, &valid_end);
    free(data);
    if (valid_end < s->bytes) {
        wm__log(WM__LOG_WARN,
                "spool: unreadable records at offset %" PRIu64 " of %s; skipping %" PRIu64 " bytes",
                valid_end, path, s->bytes - valid_end);
        sp->counts.corrupt++;
        sp->counts.skipped_bytes += s->bytes - valid_end;
        if (!add_gap(s, valid_end, s->bytes))
            sp->read_offset = s->bytes, events = 0; /* out of memory: skip the rest instead */
    }
    sp->pending_events = sp->pending_events - s->events + events;
    s->events = events;
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
        size_t header_len = wm__segfmt_header_len(s->version);
        uint8_t h[WM__REC_HEADER_MAX];
        wm__segfmt_header hdr;
        bool ok =
            pread(sp->read_fd, h, header_len, (off_t)sp->read_offset) == (ssize_t)header_len &&
            wm__segfmt_decode(s->version, h, &hdr) &&
            sp->read_offset + header_len + hdr.len <= s->bytes;
        if (ok) {
            wm__buf_reset(payload);
            ok = wm__buf_reserve(payload, hdr.len) &&
                 pread(sp->read_fd, payload->data, hdr.len,
                       (off_t)(sp->read_offset + header_len)) == (ssize_t)hdr.len &&
                 wm__segfmt_payload_ok(s->version, &hdr, (const uint8_t *)payload->data);
        }
        if (!ok) {
            if (step_over_gap(s, &sp->read_offset))
                continue;
            rescan_after_damage(sp, s); /* damaged since open: find what is still valid */
            if (step_over_gap(s, &sp->read_offset))
                continue;
            /* Valid when read whole, not record by record: an I/O error; skip the rest. */
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
        payload->len = hdr.len;
        *count = hdr.count;
        sp->peeked_len = header_len + hdr.len;
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
    for (size_t i = 0; i < sp->n_segs; i++)
        free_segment(&sp->segs[i]);
    free(sp->segs);
    free(sp->dir);
    free(sp);
}
