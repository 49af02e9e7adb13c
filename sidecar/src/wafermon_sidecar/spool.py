"""The write-ahead spool: append-only segment files of framed records, with group commit.

Every accepted event gets a global sequence number. A request's events become one record; all records
that arrive while the previous write+fsync is in flight are written together with one write() and one
fdatasync() (group commit), and only then are their requests answered. Segments are named by the
sequence number of their first event, so the spool can be rebuilt from the directory alone.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .fileio import write_all
from .framing import HEADER_SIZE, MAGIC, RecordHeader, decode_header, encode_header, payload_ok

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".seg"
# Free disk space always left for the cursors (64-byte records rewritten in place) and their temporary files.
CURSOR_ROOM_BYTES = 64 * 1024


class SpoolFull(Exception):
    """Accepting this record would take the spool over its size limit (back-pressure)."""


class SpoolTooLarge(Exception):
    """This record can never fit (over spool.max_size_mb, or over the disk's size less its reserve): a permanent
    refusal, unlike SpoolFull."""


class CorruptRecord(OSError):
    """A record that passed recovery no longer passes its CRC (the disk changed under us)."""

    def __init__(self, message: str, first_seq: int, end_seq: int) -> None:
        super().__init__(message)
        self.first_seq = first_seq
        self.end_seq = end_seq


class SpoolDiskError(Exception):
    """The disk refused the write (e.g. ENOSPC); nothing of the failed group was acknowledged."""


@dataclass(slots=True)
class Segment:
    base_seq: int
    path: Path
    size: int = 0
    firsts: list[int] = field(default_factory=list)  # first seq of each record
    offsets: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    # When each record was written (Unix time): for records found at start, the segment file's mtime (the
    # time of its last write, so their age is a lower bound); kept in memory only.
    times: list[float] = field(default_factory=list)
    read_fd: int | None = None

    @property
    def end_seq(self) -> int:
        return self.firsts[-1] + self.counts[-1] if self.firsts else self.base_seq

    def close(self) -> None:
        if self.read_fd is not None:
            os.close(self.read_fd)
            self.read_fd = None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class _Located:
    offset: int
    header: RecordHeader


def _record_at(data: bytes, pos: int, expected: int) -> _Located | None:
    """The record at data[pos:] if it is whole, passes its CRC and continues the sequence (first_seq at or
    after `expected`: events may be missing before it, never repeated)."""
    header = decode_header(data[pos : pos + HEADER_SIZE])
    if header is None or header.count < 1 or header.first_seq < expected:
        return None
    start = pos + HEADER_SIZE
    if start + header.length > len(data) or not payload_ok(header, data[start : start + header.length]):
        return None
    return _Located(pos, header)


def _resync(data: bytes, pos: int, expected: int) -> _Located | None:
    """The first valid record at or after pos: a magic whose header and CRC check out. A magic inside a
    payload (events may hold any text) fails its CRC and the search goes on."""
    while (pos := data.find(MAGIC, pos)) >= 0:
        if (record := _record_at(data, pos, expected)) is not None:
            return record
        pos += 1
    return None


def _segment_name(base_seq: int) -> str:
    return f"{base_seq:020d}{SEGMENT_SUFFIX}"


class Spool:
    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        segment_bytes: int,
        reserve_bytes: int = 0,
        reserve_dir: Path | None = None,
    ) -> None:
        """max_bytes bounds the segment files; reserve_bytes (see disk_reserve) is disk space ingest leaves for
        the dead letters (in reserve_dir) and cursors on the same disk."""
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.reserve_bytes = reserve_bytes
        self.reserve_dir = reserve_dir
        self.segments: list[Segment] = []
        self.next_seq = 0
        self.bytes = 0
        self.recovery_warnings: list[str] = []
        # What recovery found on open (docs/sidecar.md, "Corrupt records"): damaged stretches skipped
        # with a valid record after them, their bytes and the events they held; torn-tail bytes cut off.
        self.skipped_records = 0
        self.skipped_bytes = 0
        self.skipped_events = 0
        self.truncated_bytes = 0
        self._write_fd: int | None = None
        self._pending: list[tuple[bytes, int, asyncio.Future[int]]] = []
        self._pending_bytes = 0
        self._committer: asyncio.Task[None] | None = None
        self._waiters: list[asyncio.Future[None]] = []
        # One thread does every write and fsync, so records land in sequence order.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool-writer")

    # --- recovery ---------------------------------------------------------------------------------

    def open(self, min_next_seq: int = 0) -> None:
        """Rebuild the index from the segment files: skip a corrupt record that has valid ones after it, cut off a
        torn tail (both logged and counted in skipped_* / truncated_bytes)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        names = sorted(p for p in self.directory.iterdir() if p.name.endswith(SEGMENT_SUFFIX))
        for path in names:
            try:
                base = int(path.name[: -len(SEGMENT_SUFFIX)])
            except ValueError:
                self._warn(f"ignoring unexpected file in the spool: {path.name}")
                continue
            self.segments.append(self._scan(Segment(base, path)))
        # Empty segments other than the last one carry nothing; drop them.
        for seg in self.segments[:-1]:
            if not seg.firsts:
                seg.path.unlink()
        self.segments = [s for s in self.segments[:-1] if s.firsts] + self.segments[-1:]
        end = self.segments[-1].end_seq if self.segments else 0
        self.next_seq = max(end, min_next_seq)
        last = self.segments[-1] if self.segments else None
        # Appends continue in the last segment only if they follow on from it (a cursor can be ahead
        # of the files only if they were damaged or removed by hand; then start a fresh segment).
        if last is None or (last.end_seq if last.firsts else last.base_seq) != self.next_seq:
            if last is not None and not last.firsts:
                last.path.unlink()
                self.segments.pop()
            self._new_segment()
        self._write_fd = os.open(self.segments[-1].path, os.O_WRONLY | os.O_APPEND)
        self.bytes = sum(s.size for s in self.segments)

    def _warn(self, message: str) -> None:
        log.warning("%s", message)
        self.recovery_warnings.append(message)

    def _scan(self, seg: Segment) -> Segment:
        """Index the segment's records. A damaged stretch with a valid record after it is skipped (only
        it is lost; counted and logged); bad bytes with nothing valid after them are a torn tail and are
        cut off."""
        data = seg.path.read_bytes()
        pos = 0
        expected = seg.base_seq
        while pos < len(data):
            record = _record_at(data, pos, expected)
            if record is None:
                found = _resync(data, pos + 1, expected)
                if found is None:
                    self._truncate(seg, data, pos)
                    break
                record = found
                self._skipped(seg, pos, record.offset, expected, record.header.first_seq)
            elif record.header.first_seq > expected:
                self._warn(
                    f"spool segment {seg.path.name}: events {expected}..{record.header.first_seq - 1} are "
                    f"missing before the record at byte {pos}"
                )
                self.skipped_events += record.header.first_seq - expected
            header = record.header
            seg.firsts.append(header.first_seq)
            seg.offsets.append(record.offset)
            seg.counts.append(header.count)
            expected = header.first_seq + header.count
            pos = record.offset + HEADER_SIZE + header.length
        seg.size = pos
        written = seg.path.stat().st_mtime
        seg.times = [written] * len(seg.firsts)
        return seg

    def _skipped(self, seg: Segment, start: int, end: int, expected: int, next_first: int) -> None:
        lost = f"events {expected}..{next_first - 1} lost" if next_first > expected else "no events lost"
        self._warn(
            f"spool segment {seg.path.name}: skipped {end - start} bytes of a corrupt record at byte {start} "
            f"({lost}); resynchronised on the record at byte {end}"
        )
        self.skipped_records += 1
        self.skipped_bytes += end - start
        self.skipped_events += next_first - expected

    def _truncate(self, seg: Segment, data: bytes, pos: int) -> None:
        self._warn(
            f"spool segment {seg.path.name}: torn or corrupt record at byte {pos} "
            f"({len(data) - pos} bytes) with no valid record after it; truncating it there"
        )
        self.truncated_bytes += len(data) - pos
        with open(seg.path, "r+b") as fh:
            fh.truncate(pos)
            os.fsync(fh.fileno())

    def _new_segment(self) -> None:
        path = self.directory / _segment_name(self.next_seq)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        os.fsync(fd)
        _fsync_dir(self.directory)
        if self._write_fd is not None:
            os.close(self._write_fd)
        self._write_fd = fd
        self.segments.append(Segment(self.next_seq, path))

    # --- append with group commit --------------------------------------------------------------------

    @property
    def first_seq(self) -> int:
        """The oldest sequence number still on the spool."""
        for seg in self.segments:
            if seg.firsts:
                return seg.firsts[0]
        return self.next_seq

    def disk_reserve(self) -> tuple[int, int]:
        """(free bytes on the spool's disk, bytes of it ingest must leave free). The reserve is the configured
        one, at most half the disk (so a small disk still takes events); what the dead-letter files already
        hold counts against it, down to CURSOR_ROOM_BYTES that is always kept for the cursors."""
        stats = os.statvfs(self.directory)
        reserve = min(self.reserve_bytes, stats.f_blocks * stats.f_frsize // 2)
        return stats.f_bavail * stats.f_frsize, max(reserve - self._reserve_used(), min(reserve, CURSOR_ROOM_BYTES))

    def _reserve_used(self) -> int:
        if self.reserve_dir is None:
            return 0
        try:
            with os.scandir(self.reserve_dir) as entries:
                return sum(e.stat().st_size for e in entries if e.is_file())
        except FileNotFoundError:
            return 0

    def disk_size(self) -> int:
        stats = os.statvfs(self.directory)
        return stats.f_blocks * stats.f_frsize

    def can_take(self, nbytes: int) -> bool:
        need = HEADER_SIZE + nbytes
        if self.bytes + self._pending_bytes + need > self.max_bytes:
            return False
        free, reserve = self.disk_reserve()
        return free - self._pending_bytes - need >= reserve

    async def append(self, payload: bytes, count: int) -> int:
        """Durably append one record; returns its first sequence number once it is fsync'd. Raises SpoolTooLarge
        when the record can never fit, SpoolFull when it does not fit now (over max_bytes, or it would leave
        less free disk than the reserve), SpoolDiskError when the disk refuses the write."""
        need = HEADER_SIZE + len(payload)
        if need > self.max_bytes:
            raise SpoolTooLarge(
                f"the request needs {need} bytes on the spool; the whole spool is {self.max_bytes} bytes "
                "(spool.max_size_mb)"
            )
        free, reserve = self.disk_reserve()
        if need > self.disk_size() - reserve:
            raise SpoolTooLarge(
                f"the request needs {need} bytes on the spool; its disk holds {self.disk_size()} bytes of which "
                f"{reserve} are kept free for dead letters and cursors (spool.disk_reserve_mb)"
            )
        if self.bytes + self._pending_bytes + need > self.max_bytes:
            raise SpoolFull(f"the spool is full ({self.bytes} of {self.max_bytes} bytes in use)")
        if free - self._pending_bytes - need < reserve:
            raise SpoolFull(
                f"the spool is full: its disk has {free} bytes free and {reserve} are kept free for dead letters "
                "and cursors (spool.disk_reserve_mb)"
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._pending.append((payload, count, future))
        self._pending_bytes += HEADER_SIZE + len(payload)
        if self._committer is None:
            self._committer = loop.create_task(self._commit_loop())
        # shield: a client that hangs up must not cancel the write the others share.
        return await asyncio.shield(future)

    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                group, self._pending = self._pending, []
                self._pending_bytes = 0
                seq = self.next_seq
                records: list[tuple[int, int, bytes]] = []  # first_seq, count, payload
                placed: list[tuple[int, int, int, int]] = []  # first_seq, count, offset, length
                offset = self.segments[-1].size
                for payload, count, _ in group:
                    records.append((seq, count, payload))
                    placed.append((seq, count, offset, HEADER_SIZE + len(payload)))
                    offset += HEADER_SIZE + len(payload)
                    seq += count
                size = offset - self.segments[-1].size
                try:
                    await loop.run_in_executor(self._executor, self._write, records)
                except OSError as exc:
                    error = SpoolDiskError(
                        f"the spool disk refused the write: {exc.strerror or exc} (errno {exc.errno})"
                    )
                    log.error("%s", error)
                    for _, _, future in group:
                        if not future.done():
                            future.set_exception(error)
                    continue
                seg = self.segments[-1]
                now = time.time()
                for first, count, off, _length in placed:
                    seg.firsts.append(first)
                    seg.counts.append(count)
                    seg.offsets.append(off)
                    seg.times.append(now)
                seg.size += size
                self.bytes += size
                self.next_seq = seq
                for (_, _, future), (first, _, _, _) in zip(group, placed, strict=True):
                    if not future.done():
                        future.set_result(first)
                self._wake()
                if seg.size >= self.segment_bytes:
                    try:
                        await loop.run_in_executor(self._executor, self._new_segment)
                    except OSError as exc:  # keep appending to the old segment; try again next time
                        log.error("could not start a new spool segment: %s", exc)
        finally:
            self._committer = None

    def _write(self, records: list[tuple[int, int, bytes]]) -> None:
        """Runs on the writer thread (so the CRCs are computed off the event loop): frame the records, append
        them with one writev (no copy of the payloads), fsync; on failure cut the file back to its old end."""
        fd = self._write_fd
        assert fd is not None
        before = self.segments[-1].size
        parts: list[bytes] = []
        for first_seq, count, payload in records:
            parts += (encode_header(first_seq, count, payload), payload)
        try:
            write_all(fd, parts)
            os.fdatasync(fd)
        except OSError:
            try:
                os.ftruncate(fd, before)
            except OSError:
                log.exception("could not cut the spool segment back after a failed write")
            raise

    # --- readers -------------------------------------------------------------------------------------

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_for_data(self, seq: int, timeout: float) -> bool:
        """True once events from seq on exist; False after timeout."""
        if self.next_seq > seq:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return False
        return self.next_seq > seq

    def read(self, seq: int, max_events: int) -> tuple[list[bytes], int, int]:
        """Up to max_events events from seq on: (events, first seq read, seq after the last)."""
        blocks, _, start, end = self.read_blocks(seq, max_events)
        return [event for block in blocks for event in block.split(b"\n")], start, end

    def read_blocks(self, seq: int, max_events: int) -> tuple[list[bytes], int, int, int]:
        """Up to max_events events from seq on, as NDJSON blocks (a whole record's payload as it is on disk
        where possible, so nothing is split or copied per event): (blocks, events, first seq read, seq
        after the last)."""
        seq = max(seq, self.first_seq)
        start = seq
        blocks: list[bytes] = []
        taken = 0
        bases = [s.base_seq for s in self.segments]
        index = max(bisect.bisect_right(bases, seq) - 1, 0)
        for seg in self.segments[index:]:
            position = max(bisect.bisect_right(seg.firsts, seq) - 1, 0)
            for i in range(position, len(seg.firsts)):
                first, count = seg.firsts[i], seg.counts[i]
                if first + count <= seq:
                    continue
                try:
                    payload = self._payload(seg, i)
                except CorruptRecord:
                    if blocks:  # hand out what came before it; the next read reports it
                        return blocks, taken, start, seq
                    raise
                skip = max(seq - first, 0)
                room = max_events - taken
                if skip == 0 and count <= room:
                    blocks.append(payload)
                    taken += count
                    seq = first + count
                else:
                    take = payload.split(b"\n")[skip : skip + room]
                    blocks.append(b"\n".join(take))
                    taken += len(take)
                    seq = first + skip + len(take)
                if taken >= max_events:
                    return blocks, taken, start, seq
        return blocks, taken, start, seq

    def _payload(self, seg: Segment, i: int) -> bytes:
        if seg.read_fd is None:
            seg.read_fd = os.open(seg.path, os.O_RDONLY)
        offset = seg.offsets[i]
        header_bytes = os.pread(seg.read_fd, HEADER_SIZE, offset)
        header = decode_header(header_bytes)
        end = seg.firsts[i] + seg.counts[i]
        if header is None:
            raise CorruptRecord(f"spool segment {seg.path.name}: no record header at byte {offset}", seg.firsts[i], end)
        payload = os.pread(seg.read_fd, header.length, offset + HEADER_SIZE)
        if not payload_ok(header, payload):
            raise CorruptRecord(
                f"spool segment {seg.path.name}: record at byte {offset} fails its CRC", seg.firsts[i], end
            )
        return payload

    def written_at(self, seq: int) -> float | None:
        """When the record holding event `seq` was written (Unix time; see Segment.times), or None when
        `seq` is not on the spool (already released, or not yet written)."""
        if seq >= self.next_seq or seq < self.first_seq:
            return None
        index = bisect.bisect_right([s.base_seq for s in self.segments], seq) - 1
        for seg in self.segments[max(index, 0) :]:
            if seg.firsts and seg.end_seq > seq:
                return seg.times[max(bisect.bisect_right(seg.firsts, seq) - 1, 0)]
        return None

    def release(self, upto_seq: int) -> int:
        """Delete whole segments (never the active one) that end at or before upto_seq."""
        removed = 0
        while len(self.segments) > 1 and self.segments[0].end_seq <= upto_seq:
            seg = self.segments.pop(0)
            seg.close()
            seg.path.unlink(missing_ok=True)
            self.bytes -= seg.size
            removed += 1
        return removed

    async def close(self) -> None:
        if self._committer is not None:
            await self._committer
        for seg in self.segments:
            seg.close()
        if self._write_fd is not None:
            os.close(self._write_fd)
            self._write_fd = None
        self._executor.shutdown(wait=True)
