"""``async with`` and async decorators; ``asyncio.CancelledError`` maps to cancelled."""

from __future__ import annotations

import asyncio

import pytest
from conftest import FileSink


def test_async_with_and_subjobs(sink: FileSink) -> None:
    async def main() -> str:
        async with sink.client.job("async-batch") as job:
            async with job.subjob("w1") as w:
                await asyncio.sleep(0)
                w.progress(0.5)
            return job.id

    job_id = asyncio.run(main())
    events = sink.events()
    assert [e["event_kind"] for e in events] == ["started", "started", "progress", "finished", "finished"]
    assert events[-1]["entity_id"] == job_id and events[-1]["status"] == "succeeded"


def test_async_decorator_success_and_failure(sink: FileSink) -> None:
    @sink.client.job("async-work")
    async def work(x: int) -> int:
        await asyncio.sleep(0)
        if x < 0:
            raise ValueError(f"x={x}")
        return x + 1

    assert asyncio.run(work(1)) == 2
    with pytest.raises(ValueError):
        asyncio.run(work(-5))
    finished = [e for e in sink.events() if e["event_kind"] == "finished"]
    assert [e["status"] for e in finished] == ["succeeded", "failed"]
    assert finished[1]["error"] == {"type": "ValueError", "message": "x=-5"}


def test_cancelled_task_cancels_the_job(sink: FileSink) -> None:
    started = asyncio.Event()

    @sink.client.job("long")
    async def long_running() -> None:
        started.set()
        await asyncio.sleep(60)

    async def main() -> None:
        task = asyncio.create_task(long_running())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    (finished,) = [e for e in sink.events() if e["event_kind"] == "finished"]
    assert finished["status"] == "cancelled"
    assert finished["metadata"] == {"wafermon.reason": "CancelledError"}


def test_concurrent_async_jobs_keep_their_own_outcome(sink: FileSink) -> None:
    @sink.client.job("many")
    async def one(i: int) -> int:
        await asyncio.sleep(0.001 * (i % 3))
        if i % 2:
            raise KeyError(i)
        return i

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in range(10)), return_exceptions=True)

    asyncio.run(main())
    finished = [e for e in sink.events() if e["event_kind"] == "finished"]
    assert sorted(e["status"] for e in finished) == ["failed"] * 5 + ["succeeded"] * 5
