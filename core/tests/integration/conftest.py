"""Fixtures for the core's integration tests: built binaries, a real receiver process, temp dirs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
BUILD = Path(os.environ.get("WAFERMON_BUILD_DIR", HERE.parents[2] / "build"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """The receiver process; stop() and start() keep its port and output file."""

    def __init__(self, port: int, out: Path, mode: str = "ok") -> None:
        self.port, self.out, self.mode = port, out, mode
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "receiver.py"), str(self.port), str(self.out), "--mode", self.mode],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def events(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    r = Receiver(free_port(), tmp_path / "received.jsonl")
    r.start()
    yield r
    r.stop()


@pytest.fixture
def emitter() -> Path:
    path = BUILD / "core" / "tests" / "wm_emitter"
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/build.sh first")
    return path


def client_env(url: str, spool: Path, **extra: Any) -> dict[str, str]:
    config = {
        "sidecar": {"url": url, "timeout": 2, "retries": 1},
        "spool": {"path": str(spool)},
        "flush_interval": 0.02,
        "log_level": "error",
        "app": {"name": "integration", "version": "1"},
    }
    config.update(extra)
    env = dict(os.environ)
    env["WAFERMON_CONFIG"] = json.dumps(config)
    return env
