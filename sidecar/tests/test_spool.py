"""The spool on its own: framing, group commit, reading from any sequence number, freeing segments,
and recovery from a torn or corrupt tail."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from wafermon_sidecar.cursor import Cursor
from wafermon_sidecar.framing import HEADER_SIZE, decode_header, encode_record, payload_ok
from wafermon_sidecar.spool import Spool, SpoolFull


def opened(path: Path, max_bytes: int = 10_000_000, segment_bytes: int = 10_000_000) -> Spool:
    """A spool in path, opened (recovery done); 10 MB of room and one segment unless told."""
    spool = Spool(path, max_bytes=max_bytes, segment_bytes=segment_bytes)
    spool.open()
    return spool


def events(start: int, n: int) -> bytes:
    return b"\n".join(b'{"n":%d}' % i for i in range(start, start + n))


def test_framing_round_trip_and_crc() -> None:
    record = encode_record(7, 2, b'{"a":1}\n{"b":2}')
    header = decode_header(record)
    assert header is not None and (header.first_seq, header.count) == (7, 2)
    assert payload_ok(header, record[HEADER_SIZE:])
    assert not payload_ok(header, record[HEADER_SIZE:-1] + b"X")
    assert decode_header(b"junk" * 10) is None and decode_header(record[:10]) is None


async def _fill(spool: Spool, batches: int, size: int, concurrent: bool = False) -> list[int]:
    if concurrent:  # all in flight together: one group commit
        return list(await asyncio.gather(*(spool.append(events(i * size, size), size) for i in range(batches))))
    return [await spool.append(events(i * size, size), size) for i in range(batches)]


def test_group_commit_orders_sequences_and_reads_back(tmp_path: Path) -> None:
    async def run() -> None:
        spool = opened(tmp_path, segment_bytes=2_000)
        firsts = await _fill(spool, 30, 10, concurrent=True)
        assert firsts == list(range(0, 300, 10))  # in arrival order
        assert len(spool.segments[0].firsts) >= 29  # the 29 that queued behind the first write went together
        firsts = await _fill(spool, 30, 10)
        assert firsts == list(range(300, 600, 10))
        assert spool.next_seq == 600 and len(spool.segments) >= 3  # rolled over several times
        got, start, end = spool.read(95, 17)
        assert (start, end, len(got)) == (95, 112, 17)
        everything, _, end = spool.read(0, 10_000)
        assert end == 600 and len(everything) == 600
        assert len(set(everything[:300])) == 300 and everything[:300] == everything[300:]
        await spool.close()

    asyncio.run(run())


def test_release_deletes_only_passed_segments_and_never_the_active_one(tmp_path: Path) -> None:
    async def run() -> None:
        spool = opened(tmp_path, segment_bytes=1_000)
        await _fill(spool, 20, 10)
        count = len(spool.segments)
        boundary = spool.segments[2].base_seq
        assert spool.release(boundary) == 2
        assert spool.first_seq == boundary and len(spool.segments) == count - 2
        spool.release(10**9)
        assert len(spool.segments) == 1
        assert spool.bytes == spool.segments[0].size
        assert spool.read(0, 5)[1] >= boundary  # reading from before the spool starts at what is left
        await spool.close()

    asyncio.run(run())


def test_size_limit_refuses_before_writing(tmp_path: Path) -> None:
    async def run() -> None:
        spool = opened(tmp_path, max_bytes=2_000, segment_bytes=500)
        with pytest.raises(SpoolFull):
            for i in range(100):
                await spool.append(events(i, 10), 10)
        assert spool.bytes <= 2_000
        await spool.close()

    asyncio.run(run())


@pytest.mark.parametrize("damage", ["torn_header", "torn_payload", "flipped_byte", "garbage_tail"])
def test_recovery_truncates_a_bad_tail_with_a_warning(tmp_path: Path, damage: str) -> None:
    async def write() -> None:
        spool = opened(tmp_path)
        await _fill(spool, 5, 4)
        await spool.close()

    asyncio.run(write())
    segment = next(tmp_path.glob("*.seg"))
    data = segment.read_bytes()
    last_record = len(encode_record(16, 4, events(16, 4)))
    good = len(data) - last_record
    if damage == "torn_header":
        segment.write_bytes(data[: good + 10])
    elif damage == "torn_payload":
        segment.write_bytes(data[:-5])
    elif damage == "flipped_byte":
        segment.write_bytes(data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:])
    else:
        segment.write_bytes(data + b"\x00\x13garbage")
        good = len(data)

    spool = opened(tmp_path)
    assert os.path.getsize(segment) == good
    expected_events = 20 if damage == "garbage_tail" else 16
    assert spool.next_seq == expected_events
    assert spool.recovery_warnings and "truncating" in spool.recovery_warnings[0]
    assert len(spool.read(0, 100)[0]) == expected_events

    async def append_after() -> int:
        first = await spool.append(events(100, 2), 2)
        await spool.close()
        return first

    assert asyncio.run(append_after()) == expected_events


def test_restart_keeps_sequence_numbers_above_cursors(tmp_path: Path) -> None:
    async def run() -> None:
        spool = opened(tmp_path / "seg", segment_bytes=300)
        await _fill(spool, 6, 5)
        spool.release(30)
        await spool.close()
        again = Spool(tmp_path / "seg", max_bytes=10_000_000, segment_bytes=300)
        again.open(min_next_seq=30)
        assert again.next_seq == 30
        assert await again.append(events(0, 1), 1) == 30
        await again.close()

    asyncio.run(run())


def test_cursor_is_atomic_and_falls_back_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cursor = Cursor(tmp_path, "files")
    assert cursor.load() == 0 and not cursor.exists()
    cursor.seq = 41
    cursor.persist()
    assert Cursor(tmp_path, "files").load() == 41
    assert not list(tmp_path.glob("*.tmp"))

    def no_space(seq: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cursor, "_replace", no_space)
    cursor.seq = 1234567
    cursor.persist()  # disk full: overwritten in place instead
    assert Cursor(tmp_path, "files").load() == 1234567 and cursor.persisted_seq == 1234567


def test_a_record_corrupted_after_recovery_is_reported_with_its_range(tmp_path: Path) -> None:
    from wafermon_sidecar.spool import CorruptRecord

    async def run() -> None:
        spool = opened(tmp_path)
        await _fill(spool, 3, 5)
        seg = spool.segments[0]
        with open(seg.path, "r+b") as fh:  # flip a payload byte of the middle record
            fh.seek(seg.offsets[1] + HEADER_SIZE + 2)
            byte = fh.read(1)
            fh.seek(-1, os.SEEK_CUR)
            fh.write(bytes([byte[0] ^ 0xFF]))
        got, _, end = spool.read(0, 100)
        assert (len(got), end) == (5, 5)  # what came before the bad record
        with pytest.raises(CorruptRecord) as err:
            spool.read(5, 100)
        assert (err.value.first_seq, err.value.end_seq) == (5, 10)
        assert len(spool.read(10, 100)[0]) == 5
        await spool.close()

    asyncio.run(run())


def test_a_cursor_ahead_of_the_files_starts_a_fresh_segment(tmp_path: Path) -> None:
    async def run() -> None:
        spool = opened(tmp_path)
        await _fill(spool, 2, 5)
        await spool.close()
        again = Spool(tmp_path, max_bytes=10_000_000, segment_bytes=10_000_000)
        again.open(min_next_seq=50)  # e.g. the tail of the files was lost, a cursor says 50
        assert await again.append(events(0, 3), 3) == 50
        await again.close()
        third = Spool(tmp_path, max_bytes=10_000_000, segment_bytes=10_000_000)
        third.open(min_next_seq=53)
        assert not third.recovery_warnings and third.next_seq == 53
        assert [len(third.read(s, 100)[0]) for s in (0, 10, 50)] == [13, 3, 3]  # reads step over the gap
        await third.close()

    asyncio.run(run())


def _three_records(tmp_path: Path, payload_b: bytes | None = None) -> tuple[Path, list[int], list[int]]:
    """Segment with records A (events 0..3), B (4..7), C (8..11) and D (12..15): (path, offsets, lengths)."""

    async def write() -> None:
        spool = opened(tmp_path)
        for i in range(4):
            body = payload_b if (i == 1 and payload_b is not None) else events(i * 4, 4)
            await spool.append(body, 4)
        await spool.close()

    asyncio.run(write())
    segment = next(tmp_path.glob("*.seg"))
    data = segment.read_bytes()
    offsets, lengths, pos = [], [], 0
    while pos < len(data):
        header = decode_header(data[pos : pos + HEADER_SIZE])
        assert header is not None
        offsets.append(pos)
        lengths.append(HEADER_SIZE + header.length)
        pos += HEADER_SIZE + header.length
    return segment, offsets, lengths


def _flip(path: Path, at: int, mask: int = 0x01) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= mask
    path.write_bytes(bytes(data))


# Where in record B one bit is flipped: every header field and the payload.
_B_DAMAGE = {"magic": 1, "length": 5, "crc": 9, "count": 12, "first_seq": 16, "payload": HEADER_SIZE + 3}


@pytest.mark.parametrize("where", sorted(_B_DAMAGE))
def test_one_corrupt_record_mid_segment_loses_only_itself(tmp_path: Path, where: str) -> None:
    segment, offsets, lengths = _three_records(tmp_path)
    size = segment.stat().st_size
    _flip(segment, offsets[1] + _B_DAMAGE[where], 0x01 if where != "length" else 0x40)

    spool = opened(tmp_path)
    got = spool.read(0, 100)[0]
    assert got == events(0, 4).split(b"\n") + events(8, 8).split(b"\n")  # A, C and D; only B is gone
    assert segment.stat().st_size == size  # nothing truncated: C and D stay on disk
    assert spool.next_seq == 16
    assert (spool.skipped_records, spool.skipped_bytes, spool.skipped_events) == (1, lengths[1], 4)
    warning = next(w for w in spool.recovery_warnings if "skipped" in w)
    assert segment.name in warning and f"byte {offsets[1]}" in warning and f"{lengths[1]} bytes" in warning
    assert "events 4..7" in warning

    async def append_after() -> int:
        first = await spool.append(events(100, 2), 2)
        await spool.close()
        return first

    assert asyncio.run(append_after()) == 16
    again = Spool(tmp_path, max_bytes=10_000_000, segment_bytes=10_000_000)
    again.open()  # the damage is still on disk: skipped (and reported) again, nothing more lost
    assert len(again.read(0, 100)[0]) == 14 and again.skipped_records == 1
    asyncio.run(again.close())


def test_several_corrupt_records_and_a_corrupt_first_record_are_each_skipped(tmp_path: Path) -> None:
    segment, offsets, lengths = _three_records(tmp_path)
    _flip(segment, offsets[0] + HEADER_SIZE)  # A
    _flip(segment, offsets[2] + 2)  # C's magic
    spool = opened(tmp_path)
    assert spool.read(0, 100)[0] == events(4, 4).split(b"\n") + events(12, 4).split(b"\n")
    assert (spool.skipped_records, spool.skipped_bytes) == (2, lengths[0] + lengths[2])
    assert spool.first_seq == 4
    asyncio.run(spool.close())


def test_a_header_inside_a_corrupt_payload_does_not_fool_resynchronisation(tmp_path: Path) -> None:
    # B's payload holds the text of a record header (an event may carry any string): after B is
    # damaged the scan meets that magic first, and must not take it for a record.
    fake = encode_record(4, 4, events(4, 4))[: HEADER_SIZE + 8]
    payload_b = b'{"n":4,"note":"' + fake.hex().encode() + b" WMR1 " + b'"}\n' + events(5, 3)
    segment, offsets, _ = _three_records(tmp_path, payload_b)
    _flip(segment, offsets[1] + HEADER_SIZE + 1)
    spool = opened(tmp_path)
    assert spool.read(0, 100)[0] == events(0, 4).split(b"\n") + events(8, 8).split(b"\n")
    assert spool.skipped_records == 1
    asyncio.run(spool.close())


def test_a_corrupt_record_followed_only_by_a_torn_tail_is_truncated(tmp_path: Path) -> None:
    segment, offsets, _ = _three_records(tmp_path)
    _flip(segment, offsets[2] + HEADER_SIZE)  # C corrupt ...
    data = segment.read_bytes()
    segment.write_bytes(data[:-5])  # ... and D torn: nothing valid follows C, so the tail goes
    spool = opened(tmp_path)
    assert segment.stat().st_size == offsets[2]
    assert spool.read(0, 100)[0] == events(0, 8).split(b"\n") and spool.next_seq == 8
    assert spool.skipped_records == 0 and spool.truncated_bytes == len(data) - 5 - offsets[2]
    assert any("truncating" in w for w in spool.recovery_warnings)
    asyncio.run(spool.close())


def test_a_record_that_breaks_the_sequence_is_not_taken_for_the_next_one(tmp_path: Path) -> None:
    # A valid record whose first_seq goes backwards (e.g. a stale copy) cannot follow the damage.
    segment, offsets, lengths = _three_records(tmp_path)
    data = bytearray(segment.read_bytes())
    stale = encode_record(0, 4, events(0, 4))
    assert len(stale) == lengths[1]
    data[offsets[1] : offsets[1] + lengths[1]] = stale  # B's place holds a copy of A
    segment.write_bytes(bytes(data))
    spool = opened(tmp_path)
    assert spool.read(0, 100)[0] == events(0, 4).split(b"\n") + events(8, 8).split(b"\n")
    assert (spool.skipped_records, spool.skipped_bytes) == (1, lengths[1])
    asyncio.run(spool.close())
