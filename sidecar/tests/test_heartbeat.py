"""The heartbeat's own arithmetic: the backlog in bytes from a cursor, the age of the oldest waiting
event from arrival samples (bounded), and the sidecar id kept beside the spool. The reports reaching a
real gateway are tested end to end in gateway/alerting_tests/test_sidecar_heartbeat.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

from wafermon_sidecar.heartbeat import MAX_SAMPLES, Arrivals, backlog_bytes, sidecar_id
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


def test_arrivals_give_the_age_of_the_oldest_waiting_event() -> None:
    a = Arrivals()
    a.sample(0, 100.0)  # start: nothing spooled
    a.sample(10, 101.0)  # events 0..9 arrived by t=101
    a.sample(25, 105.0)  # events 10..24 by t=105
    assert a.age(0, 25, 110.0) == 9.0
    assert a.age(12, 25, 110.0) == 5.0
    assert a.age(25, 25, 110.0) is None  # nothing waiting
    assert a.age(30, 40, 110.0) == 0.0  # newer than the last sample: just arrived
    a.forget_before(12)
    assert a.age(12, 25, 110.0) == 5.0 and len(a.seqs) == 2


def test_arrivals_stay_bounded_and_only_get_coarser() -> None:
    a = Arrivals()
    for i in range(3 * MAX_SAMPLES):
        a.sample(i + 1, float(i))
    assert len(a.seqs) <= MAX_SAMPLES + 1
    assert a.age(0, 3 * MAX_SAMPLES, 3.0 * MAX_SAMPLES) == 3.0 * MAX_SAMPLES  # the first arrival is kept


def test_sidecar_id_is_stable_across_restarts(tmp_path: Path) -> None:
    first = sidecar_id(tmp_path / "spool")
    assert first == sidecar_id(tmp_path / "spool") and len(first) == 36
    assert sidecar_id(tmp_path / "other") != first
