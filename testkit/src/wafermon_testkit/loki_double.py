"""The test side of the Loki PROTOCOL DOUBLE (wafermon_testkit.loki_double_server, whose docstring says
what it checks and answers): ``LokiDouble`` runs it as a child process on a fixed port, reads what it
stored, injects faults, and is a context manager. ``stop()`` then ``start()`` keep its port and its
store, so a test can take the peer down and bring it back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from wafermon_testkit.net import free_port

PUSH_PATH = "/loki/api/v1/push"


class LokiDouble:
    """The double as a child process; ``options`` become its flags (``tenant_required=True`` →
    ``--tenant-required``, ``max_line_bytes=2048`` → ``--max-line-bytes 2048``)."""

    def __init__(self, store: Path, port: int | None = None, **options: Any) -> None:
        self.store = store
        self.port = port or free_port()
        self.options = options
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        """The base URL (what the loki backend's `url` takes)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Starts it; returns once it listens. A port still held (a restart right after a stop) is
        retried for `timeout` seconds; then raises AssertionError."""
        args = [sys.executable, "-m", "wafermon_testkit.loki_double_server", "--port", str(self.port)]
        args += ["--store", str(self.store)]
        for key, value in self.options.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                args.append(flag)
            elif value is not False and value is not None:
                args += [flag, str(value)]
        deadline = time.monotonic() + timeout
        while True:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
            assert self.proc.stdout is not None
            if self.proc.stdout.readline().startswith("ready"):
                return
            self.stop()  # it exited: the port is not free yet
            assert time.monotonic() < deadline, f"the Loki double did not start on port {self.port}"
            time.sleep(0.1)

    def stop(self) -> None:
        """Kills it (a peer that vanishes) and waits for it; a no-op when it is not running."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None

    def __enter__(self) -> LokiDouble:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

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
