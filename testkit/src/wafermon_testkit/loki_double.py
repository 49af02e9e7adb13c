"""The test side of the Loki PROTOCOL DOUBLE (wafermon_testkit.loki_double_server, whose docstring says
what it checks and answers): ``LokiDouble`` runs it as a child process on a fixed port, reads what it
stored, injects faults, and is a context manager. ``stop()`` then ``start()`` keep its port and its
store, so a test can take the peer down and bring it back.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from wafermon_testkit.child_server import ChildServer

PUSH_PATH = "/loki/api/v1/push"


class LokiDouble(ChildServer):
    """The double as a child process; ``options`` become its flags (``tenant_required=True`` →
    ``--tenant-required``, ``max_line_bytes=2048`` → ``--max-line-bytes 2048``)."""

    module = "wafermon_testkit.loki_double_server"
    what = "Loki double"

    def __init__(self, store: Path, port: int | None = None, **options: Any) -> None:
        super().__init__(port, options)
        self.store = store

    def own_args(self) -> list[str]:
        return ["--store", str(self.store)]

    def entries(self) -> list[dict[str, Any]]:
        """Every entry stored so far (also while stopped): ``{"tenant", "stream", "ts", "line"}`` dicts
        in the order they were stored, `ts` a string of nanoseconds as pushed."""
        if not self.store.exists():
            return []
        lines = self.store.read_bytes().split(b"\n")[:-1]  # the last is empty, or a line being written
        return [json.loads(line) for line in lines if line.strip()]

    def events(self) -> list[dict[str, Any]]:
        """The stored lines decoded (each line is one event's JSON)."""
        return [json.loads(entry["line"]) for entry in self.entries()]

    def requests(self) -> list[dict[str, Any]]:
        """Every push seen since this process started: ``{"at" (Unix s), "status", "entries", "gzip",
        "tenant", "bytes"}``."""
        with urllib.request.urlopen(self.url + "/double/requests", timeout=10) as answer:
            result: list[dict[str, Any]] = json.loads(answer.read())
        return result

    def inject(self, status: int, count: int, retry_after: str | None = None, message: str = "") -> None:
        """Answer the next `count` pushes with `status` (and Retry-After), storing nothing of them."""
        fault = {"status": status, "count": count, "retry_after": retry_after, "message": message or "injected"}
        request = urllib.request.Request(self.url + "/double/faults", data=json.dumps(fault).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def wait_for(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Polls until at least `count` entries are stored or `timeout` seconds pass; returns them (the
        caller asserts, so a failure shows what did arrive)."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.entries()
            if len(entries) >= count or time.monotonic() > deadline:
                return entries
            time.sleep(0.05)
