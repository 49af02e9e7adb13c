"""A test peer run as a child process: ``python -m MODULE --port PORT ...`` that prints a line
starting with "ready" once it listens. The base of ``Receiver`` and ``LokiDouble``: one start (with
the retry a port still held after a restart needs), one stop and the context manager.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any, Self

from wafermon_testkit.net import free_port


class ChildServer:
    """Runs `module` on a fixed port (a free one unless given). ``options`` become its command-line
    flags: ``mode="reject"`` → ``--mode reject``, ``gateway=True`` → ``--gateway``; False and None
    are left out. ``stop()`` then ``start()`` keep the port, so a test can take the peer down and
    bring it back."""

    module = ""  # set by each subclass: the server's module, run with -m
    what = ""  # its name in a failure message

    def __init__(self, port: int | None, options: dict[str, Any]) -> None:
        self.port = port or free_port()
        self.options = options
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        """The base URL, http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self.port}"

    def own_args(self) -> list[str]:
        """The flags the subclass always passes (its output file, say)."""
        return []

    def start(self, timeout: float = 10.0) -> None:
        """Starts it; returns once it listens. A port still held (a restart right after a stop) is
        retried for `timeout` seconds; then raises AssertionError."""
        args = [sys.executable, "-m", self.module, "--port", str(self.port), *self.own_args()]
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
            assert time.monotonic() < deadline, f"the {self.what} did not start on port {self.port}"
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

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
