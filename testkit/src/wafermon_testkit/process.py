"""Start a service process and wait until it answers over HTTP (by default GET /v1/healthz → 200).

``Service`` is the one way the tests, the benches and scripts/api_contract.py start the gateway,
the sidecar or any other HTTP process: output to a log file, a readiness poll that gives up early
when the process exits (with the log's tail in the message), and a stop that escalates from SIGTERM
to SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from wafermon_testkit.net import free_port

#: How long a service may take to answer: generous, the machine running the tests may be loaded.
START_TIMEOUT_S = 60.0


def console_script(name: str) -> str:
    """The path of an installed console script (e.g. ``wafermon-gateway``) next to this Python."""
    return str(Path(sys.executable).with_name(name))


def clean_env(**variables: str) -> dict[str, str]:
    """This process's environment without any WAFERMON_* variable (so a developer's settings cannot
    leak into a test), plus `variables`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
    return env | variables


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The HTTP status of GET url, or None when nothing answers (refused, reset, timed out)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


class Service:
    """A process started with `argv`, its stdout and stderr appended to `log`.

    ``start()`` returns once GET ``url + health_path`` answers with a status `ready` accepts (200 by
    default); it raises AssertionError with the log's tail if the process exits first or does not
    answer within `timeout` seconds. Usable as a context manager (start … stop).
    """

    def __init__(
        self,
        argv: Sequence[str | Path],
        url: str,
        log: Path,
        env: Mapping[str, str] | None = None,
        health_path: str = "/v1/healthz",
        ready: Callable[[int], bool] = lambda status: status == 200,
        timeout: float = START_TIMEOUT_S,
        name: str = "",
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.url = url
        self.log_path = log
        self.env = dict(env) if env is not None else None
        self.health_path, self.ready, self.timeout = health_path, ready, timeout
        self.name = name or Path(self.argv[0]).name
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + self.timeout
        while True:
            status = http_status(self.url + self.health_path)
            if status is not None and self.ready(status):
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                self.stop(5)  # not left running behind a failed test
                raise AssertionError(
                    f"{self.name} did not answer {self.health_path} in {self.timeout}s:\n{self.log()[-4000:]}"
                )
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill9(self) -> None:
        """SIGKILL (a crash: no shutdown runs) and wait for it; ``start()`` brings it back."""
        assert self.proc is not None, f"{self.name} was never started"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then SIGKILL after `timeout` seconds; returns the exit status (0 if never started)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return int(self.proc.returncode)

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextmanager
def gateway_process(
    log: Path, env: Mapping[str, str], port: int | None = None, timeout: float = START_TIMEOUT_S
) -> Iterator[str]:
    """The installed ``wafermon-gateway`` on a free loopback port with `env` (its settings as
    WAFERMON_* variables; see clean_env); yields its base URL, stops it at the end."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [console_script("wafermon-gateway"), "--port", str(port)]
    with Service(argv, url, log, env=env, timeout=timeout, name="the gateway"):
        yield url


@contextmanager
def sqlite_gateway(workdir: Path, **settings: str) -> Iterator[str]:
    """The gateway over SQLite in workdir/gw.db (log: workdir/gateway.log), each keyword a
    WAFERMON_GATEWAY_<NAME> setting (``stream_keepalive_s="1"``); yields its base URL."""
    env = clean_env(WAFERMON_GATEWAY_SQLITE_PATH=str(workdir / "gw.db"))
    env |= {"WAFERMON_GATEWAY_" + name.upper(): value for name, value in settings.items()}
    with gateway_process(workdir / "gateway.log", env) as url:
        yield url
