"""multiprocessing workers (fork start method) end with os._exit(): their sub-jobs must still
arrive without an explicit flush."""

from __future__ import annotations

import multiprocessing

from conftest import FileSink


def test_worker_subjobs_arrive_without_flush(sink: FileSink) -> None:
    ctx = multiprocessing.get_context("fork")
    with sink.client.job("mp-batch") as job:

        def work(i: int) -> None:
            with job.subjob(f"wafer-{i}") as w:
                w.progress(0.5)

        workers = [ctx.Process(target=work, args=(i,)) for i in range(3)]
        for p in workers:
            p.start()
        for p in workers:
            p.join(30)
            assert p.exitcode == 0
    events = sink.events()
    subs = [e for e in events if e["entity_type"] == "subjob"]
    assert sorted(e["sub_key"] for e in subs if e["event_kind"] == "finished") == ["wafer-0", "wafer-1", "wafer-2"]
    assert len(subs) == 9 and all(e["parent_id"] == job.id for e in subs if e["event_kind"] == "started")
