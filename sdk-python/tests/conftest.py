"""Fixtures: real receivers only — the file backend (mode direct, files in a tmp dir) and an HTTP
receiver process — never a patched binding."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import wafermon
from wafermon_testkit import Receiver, ingest_receiver

__all__ = ["Receiver", "ingest_receiver"]  # the test kit's, for the test modules

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

Event = dict[str, Any]


def read_jsonl_dir(directory: Path) -> list[Event]:
    """Every event the file backend wrote under ``directory``, in file order."""
    events: list[Event] = []
    for path in sorted(directory.glob("*.jsonl")):
        events.extend(json.loads(line) for line in path.read_text().split("\n") if line)
    return events


def direct_config(tmp: Path) -> dict[str, Any]:
    """Configuration for mode direct into ``tmp/out`` with a spool in ``tmp/spool``."""
    return {
        "mode": "direct",
        "direct_backends": [{"type": "filesystem", "path": str(tmp / "out"), "fsync": False}],
        "spool": {"path": str(tmp / "spool")},
        "app": {"name": "sdk-tests", "version": "1.0", "site_id": "fab-test"},
        "flush_interval": 0.01,
        "exit_flush_timeout": 5,
    }


class FileSink:
    """A client in mode direct plus a reader of what the file backend wrote."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "out"
        self.config = direct_config(tmp)
        self.client = wafermon.Client(self.config)

    def events(self, flush: bool = True) -> list[Event]:
        if flush:
            self.client.flush(10)
        return read_jsonl_dir(self.dir)


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[FileSink]:
    s = FileSink(tmp_path)
    yield s
    s.client.close(5)


@pytest.fixture
def default_sink(tmp_path: Path) -> Iterator[FileSink]:
    """Like ``sink`` but installed as the default client through ``wafermon.configure``."""
    s = FileSink.__new__(FileSink)
    s.dir = tmp_path / "out"
    s.config = direct_config(tmp_path)
    s.client = wafermon.configure(s.config)
    yield s
    wafermon.shutdown(5)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    """The test kit's receiver keeping the sidecar's ingest contract; ``stop()``/``start()`` keep its port."""
    with ingest_receiver(tmp_path / "received.ndjson") as r:
        yield r


def sidecar_config(url: str, tmp: Path) -> dict[str, Any]:
    return {
        "mode": "sidecar",
        "sidecar": {"url": url, "timeout": 2, "retries": 1},
        "spool": {"path": str(tmp / "spool")},
        "app": {"name": "sdk-tests", "version": "1.0", "site_id": "fab-test"},
        "flush_interval": 0.01,
    }


def clean_env() -> dict[str, str]:
    """The environment for a child process, without WAFERMON_* from the caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}


@pytest.fixture(autouse=True)
def _no_wafermon_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The caller's WAFERMON_* settings must not leak into what a test configures.
    for key in list(os.environ):
        if key.startswith("WAFERMON_"):
            monkeypatch.delenv(key)
