"""Conformance testee for the Python SDK (conformance/PROTOCOL.md), through the public API only.

    python conformance/testees/python/testee.py SCENARIO.json

Configuration comes from the environment the runner sets (WAFERMON_CONFIG): the default client.
One JSON line per step on stdout; exit 0 after flushing, non-zero on an uncaught failure.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import wafermon


class Testee:
    """Runs the steps of one scenario, holding the jobs by their ``as`` names."""

    def __init__(self) -> None:
        self.jobs: dict[str, wafermon.Job] = {}

    @staticmethod
    def metadata(step: dict[str, Any]) -> Any:
        # metadata_raw: the language's natural value for that JSON text, so a non-object reaches
        # the SDK and is refused by it.
        if "metadata_raw" in step:
            return json.loads(step["metadata_raw"])
        return step.get("metadata")

    def run_step(self, step: dict[str, Any]) -> dict[str, Any]:
        op = step["op"]
        if op == "start":
            job = wafermon.default_client().start(
                step.get("business_key"), site_id=step.get("site_id"), metadata=self.metadata(step)
            )
            self.jobs[step["as"]] = job
            return {"id": job.id}
        if op == "subjob":
            sub = self.jobs[step["parent"]].subjob(step.get("sub_key"), metadata=self.metadata(step))
            self.jobs[step["as"]] = sub
            return {"id": sub.id}
        if op == "progress":
            self.jobs[step["job"]].progress(step.get("fraction"), self.metadata(step))
        elif op == "heartbeat":
            self.jobs[step["job"]].heartbeat()
        elif op == "succeed":
            self.jobs[step["job"]].succeed(self.metadata(step))
        elif op == "cancel":
            self.jobs[step["job"]].cancel(self.metadata(step))
        elif op == "fail":
            self.jobs[step["job"]].fail(step["error_type"], step.get("error_message"), self.metadata(step))
        elif op == "flush":
            wafermon.flush(float(step.get("timeout", 10)))
        elif op == "sleep":
            time.sleep(float(step["seconds"]))
        elif op == "fork_child":
            return self.fork_child(step)
        else:
            raise ValueError(f"unknown op {op!r}")
        return {}

    def fork_child(self, step: dict[str, Any]) -> dict[str, Any]:
        parent = self.jobs[step["parent"]]
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(read_end)
                sub = parent.subjob(step.get("sub_key"))
                sub.succeed()
                wafermon.flush(10)
                os.write(write_end, sub.id.encode())
                code = 0
            except BaseException as exc:
                print(f"testee child: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                os._exit(code)
        os.close(write_end)
        child_id = os.read(read_end, 64).decode()
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            return {"ok": False, "error": "ChildFailed", "message": f"child exit status {code}"}
        return {"id": child_id}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: testee.py SCENARIO.json", file=sys.stderr)
        return 2
    scenario = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    testee = Testee()
    for index, step in enumerate(scenario["steps"]):
        line: dict[str, Any] = {"step": index, "ok": True}
        try:
            line.update(testee.run_step(step))
        except wafermon.WafermonError as exc:
            line.update(ok=False, error=type(exc).__name__, message=str(exc))
        print(json.dumps(line), flush=True)
    wafermon.shutdown(10)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
