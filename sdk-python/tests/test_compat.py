"""The seeds' API (``Monitored``, ``AppRef``, ``SidecarEmitter``) on wafermon: the seeds' own
examples, with only the import changed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

import pytest
from conftest import FileSink, Receiver, sidecar_config

import wafermon
from wafermon.compat import AppRef, Monitored, SidecarEmitter


def process_wafer(wafer_id: int) -> None:
    if wafer_id == 3:
        raise ValueError("wafer 3 cracked")


def test_seed_example_with_subjobs(default_sink: FileSink) -> None:
    app = AppRef(app_id=uuid4(), name="wafer-process", version="2.1.0")
    with pytest.raises(ValueError), Monitored(
        site_id="fab1", app=app, entity_type="job", business_key="batch-12345",
        metadata={"priority": "high", "customer": "ACME"},
    ) as job:  # fmt: skip
        for wafer_id in (1, 2, 3):
            with Monitored(
                site_id="fab1", app=app, entity_type="subjob", parent_id=job.entity_id, sub_key=f"wafer-{wafer_id}"
            ) as subjob:
                subjob.tick(extra_meta={"progress": 0.5})
                subjob.tick()
                process_wafer(wafer_id)
    # A distinct AppRef runs on its own client (app name/version are per client in the core).
    wafermon.flush(10)
    for client in list(wafermon.compat._clients.values()):
        client.flush(10)
    events = default_sink.events(flush=False)
    assert {(e["app"]["name"], e["app"]["version"]) for e in events} == {("wafer-process", "2.1.0")}
    started = [e for e in events if e["event_kind"] == "started"]
    assert [e["entity_type"] for e in started] == ["job", "subjob", "subjob", "subjob"]
    assert started[0]["metadata"] == {"priority": "high", "customer": "ACME"}
    assert all(e["parent_id"] == started[0]["entity_id"] for e in started[1:])
    progress = [e for e in events if e["event_kind"] == "progress"]
    assert {e["progress"] for e in progress} == {0.5}
    assert len([e for e in events if e["event_kind"] == "heartbeat"]) == 3
    finished = [e for e in events if e["event_kind"] == "finished"]
    assert [e["status"] for e in finished] == ["succeeded", "succeeded", "failed", "failed"]
    assert finished[-1]["error"] == {"type": "ValueError", "message": "wafer 3 cracked"}


def test_plain_monitored_on_default_client(default_sink: FileSink) -> None:
    with Monitored(site_id="fab2", business_key="b-1") as m:
        m.tick(extra_meta={"step": "litho", "progress": "n/a"})
    events = default_sink.events()
    assert events[1]["metadata"] == {"step": "litho", "progress": "n/a"} and "progress" not in events[1]
    assert events[-1]["site_id"] == "fab2" and events[-1]["status"] == "succeeded"


def test_sidecar_emitter(receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAFERMON_SPOOL_DIR", str(tmp_path / "spool"))
    emitter = SidecarEmitter(base_url=receiver.url, timeout=10.0, max_retries=5, enable_retries=True)
    with Monitored(site_id="fab1", app=AppRef(name="emit", version="1"), entity_type="job", emitter=emitter):
        pass
    events = receiver.wait_for(lambda ev: len(ev) >= 2, timeout=10)
    assert [e["event_kind"] for e in events] == ["started", "finished"]
    assert events[0]["app"]["name"] == "emit"


def test_compat_errors(default_sink: FileSink) -> None:
    with pytest.raises(wafermon.InvalidArgumentError, match="parent_id is required"):
        Monitored(site_id="fab1", entity_type="subjob")
    with pytest.raises(wafermon.InvalidArgumentError, match="entity_type"):
        Monitored(site_id="fab1", entity_type="task")
    orphan = Monitored(entity_type="subjob", parent_id=str(uuid4()))
    with pytest.raises(wafermon.InvalidArgumentError, match="not a job running in this process"):
        orphan.start()
    with pytest.raises(wafermon.StateError):
        _ = Monitored().entity_id


def threads_now() -> int:
    """Threads of this process, the core's delivery threads included (not only Python's)."""
    return len(os.listdir("/proc/self/task"))


def run_on_one_client(one_job: Callable[[int], None], spool: Path, jobs: int = 40) -> None:
    """Runs ``one_job(0)`` .. ``one_job(jobs - 1)`` and checks that after the first no thread and no
    spool slot was added: one client served them all."""
    one_job(0)
    threads, slots = threads_now(), len(list(spool.glob("slot-*")))
    for i in range(1, jobs):
        one_job(i)
    assert (threads_now(), len(list(spool.glob("slot-*")))) == (threads, slots)


def test_apprefs_share_one_client_and_flush_delivers(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 jobs each with a fresh ``AppRef(app_id=uuid4(), ...)``: the threads and spool slots of
    the process stay as they were after the first, and ``wafermon.flush()`` delivers them all."""
    spool = tmp_path / "spool"
    wafermon.configure(sidecar_config(receiver.url, tmp_path) | {"flush_interval": 30})
    try:

        def one_job(i: int) -> None:
            app = AppRef(app_id=uuid4(), name="wafer-process", version="2.1.0")
            with Monitored(site_id="fab1", app=app, entity_type="job", business_key=f"batch-{i}"):
                pass

        run_on_one_client(one_job, spool)
        wafermon.flush(10)
        # flush_interval 30 s: only the flush can have sent them by now.
        events = receiver.events()
        assert len([e for e in events if e["event_kind"] == "finished"]) == 40
        assert {(e["app"]["name"], e["app"]["version"]) for e in events} == {("wafer-process", "2.1.0")}
    finally:
        wafermon.shutdown(5)
        wafermon.compat.close_clients()


def test_distinct_apps_share_one_client_each_job_carries_its_app(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 jobs with 40 distinct ``AppRef(app_id=uuid4(), name=f"app{i}")``: one client (threads and
    spool slots constant after the first), each job's events carry its own app, sub-jobs inherit
    it, and ``wafermon.flush()`` delivers them all to the receiver."""
    spool = tmp_path / "spool"
    wafermon.configure(sidecar_config(receiver.url, tmp_path) | {"flush_interval": 30})
    apps = [AppRef(app_id=uuid4(), name=f"app{i}", version=f"v{i}") for i in range(40)]
    try:

        def one_job(i: int) -> None:
            with Monitored(site_id="fab1", app=apps[i], business_key=f"batch-{i}") as m:
                sub = Monitored(entity_type="subjob", parent_id=m.entity_id, sub_key="w1")
                with sub:
                    pass

        run_on_one_client(one_job, spool)
        assert len(wafermon.compat._clients) == 0  # all on the default client
        wafermon.flush(10)
        events = receiver.events()
        assert len([e for e in events if e["event_kind"] == "finished"]) == 80
        for e in events:
            i = int(e["business_key"].removeprefix("batch-"))
            assert e["app"] == {"name": f"app{i}", "version": f"v{i}", "id": str(apps[i].app_id)}
    finally:
        wafermon.shutdown(5)
        wafermon.compat.close_clients()


def test_too_many_distinct_emitters_are_refused(default_sink: FileSink) -> None:
    """The cap bounds clients, which only distinct emitters make now (each a thread and a spool slot)."""
    try:
        with pytest.raises(wafermon.ConfigError, match="at most 16 distinct SidecarEmitter"):
            for i in range(17):
                emitter = SidecarEmitter(base_url=f"http://127.0.0.1:{20000 + i}", max_retries=0)
                with Monitored(site_id="fab1", app=AppRef(name=f"app-{i}"), business_key="b", emitter=emitter):
                    pass
    finally:
        wafermon.compat.close_clients(10)
