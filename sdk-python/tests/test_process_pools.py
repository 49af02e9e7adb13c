"""Process pools end their workers with SIGTERM (``Pool.__exit__`` calls ``terminate()``) or with
``os._exit()``: every sub-job a worker finished must still arrive at a real HTTP receiver, with
the fork, spawn and forkserver start methods and with ``concurrent.futures``."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import Receiver, sidecar_config

import wafermon

TASKS = 6
RUNS = 10

# The parent's job, inherited by forked workers (a Job cannot be pickled to a spawned one).
_parent: wafermon.Job | None = None


def subjob_work(i: int) -> int:
    """A forked worker's share: one sub-job of the parent's job."""
    assert _parent is not None
    with _parent.subjob(f"wafer-{i}") as sub:
        sub.progress(0.5)
    return i


def configure_worker(config: dict[str, Any]) -> None:
    """The pool's initializer: a spawned worker configures its own default client."""
    wafermon.configure(config)


def job_work(i: int) -> int:
    """A spawned worker's share: a job of its own on its default client, naming the parent's
    job in its metadata."""
    with wafermon.job(f"wafer-{i}", metadata={"parent": "pool-batch"}):
        pass
    return i


def finished_keys(events: list[dict[str, Any]], field: str) -> list[str]:
    keys = (e.get(field) or "" for e in events if e["event_kind"] == "finished")
    return sorted(key for key in keys if key.startswith("wafer-"))


@pytest.mark.parametrize("run", range(RUNS))
def test_fork_pool_subjobs_arrive(receiver: Receiver, tmp_path: Path, run: int) -> None:
    global _parent
    client = wafermon.Client(sidecar_config(receiver.url, tmp_path))
    try:
        with client.job("pool-batch") as job:
            _parent = job
            with multiprocessing.get_context("fork").Pool(3) as pool:
                assert pool.map(subjob_work, range(TASKS)) == list(range(TASKS))
        client.flush(10)
    finally:
        _parent = None
        client.close(5)
    events = receiver.wait_for(lambda ev: len(finished_keys(ev, "sub_key")) >= TASKS, timeout=20)
    assert finished_keys(events, "sub_key") == [f"wafer-{i}" for i in range(TASKS)]
    subs = [e for e in events if e["entity_type"] == "subjob"]
    assert all(e["parent_id"] == job.id for e in subs)
    assert len(subs) == 3 * TASKS  # started, progress, finished


def test_fork_executor_subjobs_arrive(receiver: Receiver, tmp_path: Path) -> None:
    global _parent
    client = wafermon.Client(sidecar_config(receiver.url, tmp_path))
    try:
        with client.job("pool-batch") as job:
            _parent = job
            with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("fork")) as pool:
                assert list(pool.map(subjob_work, range(TASKS))) == list(range(TASKS))
    finally:
        _parent = None
        client.close(5)
    events = receiver.wait_for(lambda ev: len(finished_keys(ev, "sub_key")) >= TASKS, timeout=20)
    assert finished_keys(events, "sub_key") == [f"wafer-{i}" for i in range(TASKS)]


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
@pytest.mark.parametrize("pool_kind", ["Pool", "ProcessPoolExecutor"])
def test_spawned_workers_jobs_arrive(receiver: Receiver, tmp_path: Path, method: str, pool_kind: str) -> None:
    # Not through WAFERMON_CONFIG: the forkserver keeps the environment of the first test using it.
    config = (sidecar_config(receiver.url, tmp_path),)
    ctx = multiprocessing.get_context(method)
    if pool_kind == "Pool":
        with ctx.Pool(3, initializer=configure_worker, initargs=config) as pool:
            assert pool.map(job_work, range(TASKS)) == list(range(TASKS))
    else:
        with ProcessPoolExecutor(3, mp_context=ctx, initializer=configure_worker, initargs=config) as executor:
            assert list(executor.map(job_work, range(TASKS))) == list(range(TASKS))
    events = receiver.wait_for(lambda ev: len(finished_keys(ev, "business_key")) >= TASKS, timeout=20)
    assert finished_keys(events, "business_key") == [f"wafer-{i}" for i in range(TASKS)]
