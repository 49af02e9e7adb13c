"""fork(): a sub-job started in the child arrives; the parent's job is the parent's alone."""

from __future__ import annotations

import json
import os

from conftest import FileSink

import wafermon


def test_subjob_in_forked_child_arrives_and_parent_job_is_refused(sink: FileSink) -> None:
    with sink.client.job("forked-batch") as job:
        job.progress(0.1)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: report through the pipe, never return into pytest
            code = 1
            try:
                report: dict[str, str] = {}
                with job.subjob("child-1") as sub:
                    sub.progress(0.5, where="child")
                report["sub_id"] = sub.id
                try:
                    job.heartbeat()
                except wafermon.ForkedError as exc:
                    report["forked_error"] = str(exc)
                sink.client.flush(10)
                os.write(write_end, json.dumps(report).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        _, status = os.waitpid(pid, 0)
        report = json.loads(os.read(read_end, 65536))
        os.close(read_end)
        assert os.waitstatus_to_exitcode(status) == 0
        job.progress(0.9)  # still the parent's to use
    assert "started in the parent process" in report["forked_error"]
    events = sink.events()
    child = [e for e in events if e["entity_id"] == report["sub_id"]]
    assert [e["event_kind"] for e in child] == ["started", "progress", "finished"]
    assert child[0]["parent_id"] == job.id and child[0]["pid"] != os.getpid()
    assert child[1]["metadata"] == {"where": "child"}
    mine = [e for e in events if e["entity_id"] == job.id]
    assert [e["event_kind"] for e in mine] == ["started", "progress", "progress", "finished"]
    assert {e["pid"] for e in mine} == {os.getpid()}


def test_child_leaving_the_parents_block_does_not_finish_it(sink: FileSink) -> None:
    with sink.client.job("shared") as job:
        pid = os.fork()
        if pid == 0:
            try:
                with job:  # the child runs the same exit path the parent's code would
                    pass
                os._exit(0)
            finally:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finished = [e for e in sink.events() if e["event_kind"] == "finished"]
    assert len(finished) == 1 and finished[0]["pid"] == os.getpid()
