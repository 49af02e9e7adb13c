"""Real processes for the tests: the `wafermon-sidecar` console script and stand-in HTTP receivers."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from wafermon_schema import vectors_path
from wafermon_testkit import Receiver, Service, console_script, free_port, wait_until

__all__ = ["Receiver", "free_port", "wait_until"]  # the test kit's, for the test modules

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VECTORS: list[dict[str, Any]] = json.loads(Path(vectors_path()).read_text())
VALID = [v["event"] for v in VECTORS if v["valid"]]
SIDECAR_EXE = str(Path(sys.executable).with_name("wafermon-sidecar"))
# Fast retries so the tests do not wait on production back-off figures.
FAST_DELIVERY = {
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.4,
    "breaker_failure_threshold": 3,
    "breaker_reset_s": 0.3,
    "breaker_max_reset_s": 0.6,
    "send_timeout_s": 5.0,
    "cursor_sync_interval_s": 0.05,
}


def make_events(n: int, **extra: Any) -> list[dict[str, Any]]:
    """n valid events (copies of the valid vectors) with fresh, unique event_ids."""
    events = []
    for i in range(n):
        event = json.loads(json.dumps(VALID[i % len(VALID)]))
        event["event_id"] = str(uuid.uuid4())
        event.update(extra)
        events.append(event)
    return events


class SidecarProc:
    def __init__(self, workdir: Path, backends: list[dict[str, Any]], **sections: Any) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.spool_dir = workdir / "spool"
        self.log_path = workdir / "sidecar.log"
        config: dict[str, Any] = {
            "ingest": {"port": self.port, "flush_interval": 0.02},
            "spool": {"path": str(self.spool_dir)},
            "delivery": dict(FAST_DELIVERY),
            "backends": backends,
        }
        for section, values in sections.items():
            if isinstance(values, dict):
                config.setdefault(section, {}).update(values)
            else:
                config[section] = values
        self.config_path = workdir / "sidecar.json"
        self.config_path.write_text(json.dumps(config))
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30.0)
        self.token: str | None = config["ingest"].get("auth_token")

    def start(self, extra_args: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        argv = [SIDECAR_EXE, "--config", str(self.config_path), *(extra_args or [])]
        url = f"http://127.0.0.1:{self.port}"
        service = Service(argv, url, self.log_path, env={**os.environ, **(env or {})}, timeout=30, name="the sidecar")
        try:
            service.start()
        finally:
            self.proc = service.proc

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.client.close()
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30.0)

    def stop(self) -> int:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode if self.proc is not None else 0

    def post(
        self,
        body: bytes | list[dict[str, Any]] | dict[str, Any],
        path: str = "/v1/ingest/events:batch",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if self.token and "Authorization" not in all_headers:
            all_headers["Authorization"] = f"Bearer {self.token}"
        return self.client.post(path, content=data, headers=all_headers)

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.client.get("/v1/healthz").json()
        return result

    def lag(self, backend: str) -> int:
        value: int = self.health()["backends"][backend]["lag_events"]
        return value


class ReceiverProc(Receiver):
    """The test kit's stand-in receiver as a webhook at /hook (options: mode, secret, gateway, ...)."""

    def __init__(self, workdir: Path, name: str, port: int | None = None, **options: Any) -> None:
        super().__init__(workdir / f"{name}.received", port, **options)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def webhook(self, name: str = "hook", **settings: Any) -> dict[str, Any]:
        """A sidecar backend entry: a webhook named `name` posting here (settings: its other keys)."""
        return {"type": "webhook", "name": name, "config": {"webhook_url": self.url}, **settings}


class GatewayProc:
    """The real wafermon gateway (`wafermon-gateway`) on a free port, over its embedded SQLite store."""

    def __init__(self, workdir: Path, **settings: Any) -> None:
        self.port = free_port()
        self.db = workdir / "gateway.sqlite3"
        self.log_path = workdir / "gateway.log"
        self.env = {
            "PATH": str(Path(sys.executable).parent),
            "WAFERMON_GATEWAY_SQLITE_PATH": str(self.db),
            **{f"WAFERMON_GATEWAY_{key.upper()}": str(value) for key, value in settings.items()},
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [console_script("wafermon-gateway"), "--port", str(self.port)]
        service = Service(argv, self.url, self.log_path, env=self.env, ready=lambda status: status < 500)
        try:
            service.start()
        finally:
            self.proc = service.proc

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def stored(self, event_ids: list[str]) -> int:
        """How many of event_ids are in the gateway's store (read from its SQLite file)."""
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)) as db:
            db.execute("CREATE TEMP TABLE wanted (event_id TEXT PRIMARY KEY)")
            db.executemany("INSERT OR IGNORE INTO temp.wanted VALUES (?)", [(i,) for i in event_ids])
            (count,) = db.execute(
                "SELECT count(*) FROM events WHERE event_id IN (SELECT event_id FROM temp.wanted)"
            ).fetchone()
        return int(count)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[dict[str, list[Any]]]:
    """Collects every process a test starts and stops them all at the end, whatever happened."""
    started: dict[str, list[Any]] = {"sidecars": [], "receivers": [], "gateways": []}
    yield started
    for gateway in started["gateways"]:
        gateway.stop()
    for sidecar in started["sidecars"]:
        sidecar.kill()
        sidecar.client.close()
    for receiver in started["receivers"]:
        receiver.stop()


Proc = TypeVar("Proc", SidecarProc, ReceiverProc, GatewayProc)


def tracked(started: list[Any], proc: Proc, start: bool = True) -> Proc:
    """proc, recorded so that `procs` stops it at the end of the test, and started unless start=False."""
    started.append(proc)
    if start:
        proc.start()
    return proc


def workdir(tmp_path: Path, kind: str, started: list[Any]) -> Path:
    """A fresh directory for the next process of this kind (sidecar0, sidecar1, ...)."""
    path = tmp_path / f"{kind}{len(started)}"
    path.mkdir()
    return path


@pytest.fixture
def sidecar(procs: dict[str, list[Any]], tmp_path: Path) -> Callable[..., SidecarProc]:
    def factory(backends: list[dict[str, Any]], start: bool = True, **sections: Any) -> SidecarProc:
        proc = SidecarProc(workdir(tmp_path, "sidecar", procs["sidecars"]), backends, **sections)
        return tracked(procs["sidecars"], proc, start)

    return factory


@pytest.fixture
def receiver(procs: dict[str, list[Any]], tmp_path: Path) -> Callable[..., ReceiverProc]:
    def factory(name: str, start: bool = True, port: int | None = None, **options: Any) -> ReceiverProc:
        return tracked(procs["receivers"], ReceiverProc(tmp_path, name, port, **options), start)

    return factory


@pytest.fixture
def gateway(procs: dict[str, list[Any]], tmp_path: Path) -> Callable[..., GatewayProc]:
    """Starts the real gateway; keyword arguments become its WAFERMON_GATEWAY_<NAME> settings."""
    if importlib.util.find_spec("wafermon_gateway") is None:
        pytest.skip("wafermon_gateway is not installed (scripts/bootstrap.sh installs it)")

    def factory(**settings: Any) -> GatewayProc:
        return tracked(procs["gateways"], GatewayProc(workdir(tmp_path, "gateway", procs["gateways"]), **settings))

    return factory


def read_jsonl_ids(directory: Path) -> list[str]:
    """event_ids in every *.jsonl file of a filesystem backend (a torn line from a crash is skipped)."""
    ids = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                ids.append(json.loads(line)["event_id"])
            except (ValueError, KeyError):
                continue
    return ids


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs (so the kernel answers ENOSPC), unmounted at the end; skips unless root."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
