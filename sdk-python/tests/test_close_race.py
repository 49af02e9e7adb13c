"""``Client.close()`` from one thread while others start jobs, through every way the SDK starts one.

All of them go through one C start (bindings/python/speedups.c) that reads ``Client._addr`` and
starts the job with the GIL held, while ``close()`` clears ``_addr`` before closing the core's
client: a start either gives a job or raises ClosedError, never anything else, and every job
finished before close() was called has both its events written.

(Not asserted: a finish accepted while close() runs. The core can lose such an event today — its
client is marked closed only after the delivery thread has stopped — which is the core's to fix.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from conftest import direct_config, read_jsonl_dir

import wafermon

Starter = Callable[[wafermon.Client], str]


def with_scope(client: wafermon.Client) -> str:
    with wafermon.job("race", client=client) as job:
        return job.id


def explicit_start(client: wafermon.Client) -> str:
    job = client.start("race")
    job.succeed()
    return job.id


def start_for_app(client: wafermon.Client) -> str:
    job = client.start_for_app("race-app", business_key="race")
    job.succeed()
    return job.id


def decorated(client: wafermon.Client) -> str:
    client.job("race")(lambda: None)()
    return ""  # the decorator hands out no job: its jobs are counted from the events


STARTERS: dict[str, Starter] = {
    "with": with_scope,
    "start": explicit_start,
    "start_for_app": start_for_app,
    "decorator": decorated,
}


def close_during_starts(tmp: Path) -> None:
    """One round: a starter thread per way in, and close() once 400 jobs are done."""
    client = wafermon.Client(direct_config(tmp))
    finished: list[str] = []  # ids of jobs finished before close() was called
    closing = threading.Event()
    unexpected: list[BaseException] = []
    ended_closed: list[str] = []
    go = threading.Barrier(len(STARTERS) + 1)

    def starter(name: str, start: Starter) -> None:
        go.wait()
        try:
            while True:
                job_id = start(client)
                if not closing.is_set():
                    finished.append(job_id)
        except wafermon.ClosedError:
            ended_closed.append(name)
        except BaseException as exc:  # anything else is the fault this test looks for
            unexpected.append(exc)

    threads = [threading.Thread(target=starter, args=item) for item in STARTERS.items()]
    for thread in threads:
        thread.start()
    go.wait()
    deadline = time.monotonic() + 60
    while len(finished) < 400 and time.monotonic() < deadline:
        time.sleep(0.001)
    closing.set()
    client.close(30)
    for thread in threads:
        thread.join(60)
    assert not [t for t in threads if t.is_alive()], "a starter is stuck after close()"
    assert unexpected == []
    assert sorted(ended_closed) == sorted(STARTERS), "every starter ends with ClosedError"
    assert len(finished) >= 400

    kinds: dict[str, set[str]] = {}
    for event in read_jsonl_dir(tmp / "out"):
        kinds.setdefault(event["entity_id"], set()).add(event["event_kind"])
    ids = [i for i in finished if i]
    assert ids and all(kinds.get(i) == {"started", "finished"} for i in ids)
    finished_count = sum(1 for k in kinds.values() if "finished" in k)
    assert finished_count >= len(finished), "every finish before close() was written"
    # After close, each way in raises ClosedError at once.
    for start in STARTERS.values():
        try:
            start(client)
        except wafermon.ClosedError:
            continue
        raise AssertionError(f"{start.__name__} started a job on a closed client")


def test_close_while_other_threads_start_jobs(tmp_path: Path) -> None:
    for round_no in range(4):
        close_during_starts(tmp_path / f"round-{round_no}")
