"""Fixtures for the core's integration tests: built binaries, a real receiver process, temp dirs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wafermon_testkit import Receiver, free_port, ingest_receiver

__all__ = ["BUILD", "HERE", "Receiver", "client_env", "free_port", "ingest_receiver"]

HERE = Path(__file__).parent
BUILD = Path(os.environ.get("WAFERMON_BUILD_DIR", HERE.parents[2] / "build"))


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    with ingest_receiver(tmp_path / "received.jsonl") as r:
        yield r


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
