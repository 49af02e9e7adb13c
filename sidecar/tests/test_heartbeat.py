"""The heartbeat's own arithmetic: the backlog in bytes from a cursor, the time the spool wrote each
record (the age of the oldest waiting event, also in /v1/healthz), and the sidecar id kept beside
the spool. The reports reaching a real gateway are tested end to end in
gateway/alerting_tests/test_sidecar_heartbeat.py."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from wafermon_sidecar.heartbeat import backlog_bytes, sidecar_id
from wafermon_sidecar.spool import Spool


def test_backlog_bytes_counts_from_the_record_holding_the_cursor(tmp_path: Path) -> None:
    async def run() -> None:
        spool = Spool(tmp_path, max_bytes=10_000_000, segment_bytes=1_000)
        spool.open()
        for i in range(20):
            await spool.append(b"\n".join(b'{"n":%d}' % (i * 10 + k) for k in range(10)), 10)
        total = sum(s.size for s in spool.segments)
        assert backlog_bytes(spool, 0) == total
        assert backlog_bytes(spool, spool.next_seq) == 0
        middle = backlog_bytes(spool, 100)
        assert 0 < middle < total and backlog_bytes(spool, 150) < middle
        await spool.close()

    asyncio.run(run())


def test_the_spool_knows_when_each_record_was_written(tmp_path: Path) -> None:
    async def run() -> None:
        spool = Spool(tmp_path, max_bytes=10_000_000, segment_bytes=1_000)
        spool.open()
        stamps = []
        for i in range(12):
            before = time.time()
            await spool.append(b"\n".join(b'{"n":%d}' % (i * 10 + k) for k in range(10)), 10)
            stamps.append((before, time.time()))
            await asyncio.sleep(0.01)
        for seq in (0, 9, 10, 55, 119):
            low, high = stamps[seq // 10]
            written = spool.written_at(seq)
            assert written is not None and low <= written <= high, seq
        assert spool.written_at(120) is None  # not written yet
        assert spool.release(spool.segments[1].base_seq) == 1 and spool.first_seq > 0
        assert spool.written_at(spool.first_seq - 1) is None  # released
        await spool.close()
        last_write = max(p.stat().st_mtime for p in tmp_path.iterdir())
        reopened = Spool(tmp_path, max_bytes=10_000_000, segment_bytes=1_000)
        reopened.open()  # records found at start: their segment file's time, a lower bound of their age
        first = reopened.written_at(reopened.first_seq)
        assert first is not None and stamps[0][0] <= first <= last_write
        await reopened.close()

    asyncio.run(run())


def test_sidecar_id_is_stable_across_restarts(tmp_path: Path) -> None:
    first = sidecar_id(tmp_path / "spool")
    assert first == sidecar_id(tmp_path / "spool") and len(first) == 36
    assert sidecar_id(tmp_path / "other") != first
