"""Jobs through the file backend: context managers, sub-jobs, progress, outcomes, metrics."""

from __future__ import annotations

import pytest
from conftest import Event, FileSink

import wafermon


def by_kind(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e["event_kind"] == kind]


def test_job_lifecycle(sink: FileSink) -> None:
    with sink.client.job("batch-12345", site_id="fab1", metadata={"recipe": "r7", "n": 25}) as job:
        job.progress(0.5, step="etch")
        job.heartbeat()
    events = sink.events()
    assert [e["event_kind"] for e in events] == ["started", "progress", "heartbeat", "finished"]
    assert {e["entity_id"] for e in events} == {job.id}
    assert [e["seq"] for e in events] == [0, 1, 2, 3]
    started, progress, _, finished = events
    assert started["business_key"] == "batch-12345" and started["site_id"] == "fab1"
    assert started["metadata"] == {"recipe": "r7", "n": 25}
    assert started["sdk"] == {"lang": "python", "version": wafermon.__version__}
    assert progress["progress"] == 0.5 and progress["metadata"] == {"step": "etch"}
    assert finished["status"] == "succeeded"
    assert set(finished["metrics"]) >= {"duration_s", "cpu_user_s", "cpu_sys_s", "mem_max_mb"}
    assert job.finished


def test_site_defaults_to_the_configured_one(sink: FileSink) -> None:
    with sink.client.job("b"):
        pass
    assert {e["site_id"] for e in sink.events()} == {"fab-test"}


def test_nested_subjobs_three_deep(sink: FileSink) -> None:
    with (
        sink.client.job("batch-1") as job,
        job.subjob("lot-1") as lot,
        lot.subjob("wafer-7", metadata={"slot": 7}) as wafer,
        wafer.subjob("die-3") as die,
    ):
        die.progress(1.0)
    events = sink.events()
    started = {e["entity_id"]: e for e in by_kind(events, "started")}
    assert started[lot.id]["parent_id"] == job.id
    assert started[wafer.id]["parent_id"] == lot.id
    assert started[die.id]["parent_id"] == wafer.id
    assert started[die.id]["entity_type"] == "subjob" and started[job.id]["entity_type"] == "job"
    assert started[die.id]["business_key"] == "batch-1"  # inherited
    assert started[wafer.id]["sub_key"] == "wafer-7" and started[wafer.id]["metadata"] == {"slot": 7}
    finished = by_kind(events, "finished")
    assert [e["entity_id"] for e in finished] == [die.id, wafer.id, lot.id, job.id]
    assert {e["status"] for e in finished} == {"succeeded"}


def test_exception_fails_the_job_and_propagates(sink: FileSink) -> None:
    with pytest.raises(ValueError, match="bad wafer"), sink.client.job("b") as job, job.subjob("w"):
        raise ValueError("bad wafer")
    finished = by_kind(sink.events(), "finished")
    assert [(e["status"], e["error"]) for e in finished] == [
        ("failed", {"type": "ValueError", "message": "bad wafer"}),
        ("failed", {"type": "ValueError", "message": "bad wafer"}),
    ]


def test_keyboard_interrupt_cancels(sink: FileSink) -> None:
    with pytest.raises(KeyboardInterrupt), sink.client.job("b"):
        raise KeyboardInterrupt
    (finished,) = by_kind(sink.events(), "finished")
    assert finished["status"] == "cancelled"
    assert finished["metadata"] == {"wafermon.reason": "KeyboardInterrupt"}


def test_system_exit_zero_succeeds_nonzero_fails(sink: FileSink) -> None:
    with pytest.raises(SystemExit), sink.client.job("ok"):
        raise SystemExit(0)
    with pytest.raises(SystemExit), sink.client.job("bad"):
        raise SystemExit(4)
    finished = by_kind(sink.events(), "finished")
    assert [e["status"] for e in finished] == ["succeeded", "failed"]
    assert finished[1]["error"] == {"type": "SystemExit", "message": "4"}


def test_explicit_finish_inside_block_wins(sink: FileSink) -> None:
    with sink.client.job("b") as job:
        job.fail("ExitCode", "exit code 2", {"exit_code": 2})
    with pytest.raises(wafermon.StateError, match="already finished"):
        job.succeed()
    (finished,) = by_kind(sink.events(), "finished")
    assert finished["status"] == "failed" and finished["metadata"] == {"exit_code": 2}


def test_start_and_finish_without_with(sink: FileSink) -> None:
    job = sink.client.start("manual", metadata={"a": [1, 2]})
    sub = job.subjob("s1")
    sub.cancel({"why": "skipped"})
    job.set_metric("cpu_user_s", 1.5)
    job.succeed({"done": True})
    events = sink.events()
    finished = {e["entity_id"]: e for e in by_kind(events, "finished")}
    assert finished[sub.id]["status"] == "cancelled"
    assert finished[job.id]["metrics"]["cpu_user_s"] == 1.5
    assert finished[job.id]["metadata"] == {"done": True}


def test_unfinished_handle_is_cancelled_when_collected(sink: FileSink) -> None:
    job = sink.client.start("dropped")
    job_id = job.id
    del job
    (finished,) = by_kind(sink.events(), "finished")
    assert finished["entity_id"] == job_id and finished["status"] == "cancelled"


def test_decorator_sync(sink: FileSink) -> None:
    @sink.client.job("nightly", metadata={"kind": "report"})
    def work(x: int) -> int:
        if x < 0:
            raise RuntimeError("negative")
        return x * 2

    assert work(21) == 42
    with pytest.raises(RuntimeError):
        work(-1)
    finished = by_kind(sink.events(), "finished")
    assert [e["status"] for e in finished] == ["succeeded", "failed"]
    assert finished[1]["error"] == {"type": "RuntimeError", "message": "negative"}
    assert work.__name__ == "work"


def test_module_level_api_on_default_client(default_sink: FileSink) -> None:
    @wafermon.job
    def bare() -> str:
        return "ok"

    assert bare() == "ok"
    with wafermon.job("batch-9", site_id="fab9") as job:
        job.progress(0.25)
    wafermon.flush(10)
    stats = wafermon.stats()
    assert stats["emitted"] == 5 and stats["delivered"] == 5 and stats["dropped"] == 0
    events = default_sink.events(flush=False)
    assert events[0]["business_key"].endswith("bare")
    assert events[-1]["business_key"] == "batch-9" and events[-1]["status"] == "succeeded"


def test_closed_client_raises(tmp_path: object, sink: FileSink) -> None:
    job = sink.client.start("b")
    sink.client.close(5)
    with pytest.raises(wafermon.ClosedError):
        sink.client.start("c")
    with pytest.raises(wafermon.ClosedError):
        job.heartbeat()
    sink.client.close()  # idempotent


def test_one_scope_entered_nested_and_repeatedly(sink: FileSink) -> None:
    scope = sink.client.job("reused")
    with scope as outer:
        with pytest.raises(KeyError), scope as inner:
            raise KeyError("inner only")
        with scope as second:
            pass
    with scope as again:
        pass
    finished = {e["entity_id"]: e["status"] for e in by_kind(sink.events(), "finished")}
    assert finished == {inner.id: "failed", second.id: "succeeded", outer.id: "succeeded", again.id: "succeeded"}
    with pytest.raises(RuntimeError, match="exited more often"):
        scope.__exit__(None, None, None)
