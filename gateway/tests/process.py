"""A real `wafermon-gateway` process over SQLite on a free port, for tests that read what it sends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import free_port

EXE = Path(sys.executable).with_name("wafermon-gateway")


@contextmanager
def sqlite_gateway(tmp_path: Path, **settings: str) -> Iterator[str]:
    """Start the gateway (settings as WAFERMON_GATEWAY_<NAME> variables), yield its base URL, stop it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
    env["WAFERMON_GATEWAY_SQLITE_PATH"] = str(tmp_path / "gw.db")
    env |= {"WAFERMON_GATEWAY_" + name.upper(): value for name, value in settings.items()}
    log_path = tmp_path / "gateway.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(EXE), "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60  # generous: the machine may be loaded
            while True:
                try:
                    if httpx.get(url + "/v1/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gateway did not start: {log_path.read_text()}")
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
