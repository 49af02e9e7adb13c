"""What the conftest of every backend stage (sidecar/tests_<peer>/) shares: the sidecar fixtures of
sidecar/tests/conftest.py, loaded once under the module name `sidecar_tests_conftest` (both files are
named `conftest`, so neither can import the other by name), session_peer(), the fixture that
starts one real peer for the whole session and always stops it, and ride_out_outage(), the peer
stopped mid-stream story each stage tells, and checked_doc_example() for each stage's docs example."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest
import yaml

from wafermon_testkit import wait_until
from wafermon_testkit.events import job_story

PeerT = TypeVar("PeerT")


def _sidecar_conftest() -> ModuleType:
    loaded = sys.modules.get("sidecar_tests_conftest")
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location("sidecar_tests_conftest", Path(__file__).with_name("conftest.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sidecar_tests_conftest"] = module
    spec.loader.exec_module(module)
    return module


_conftest = sidecar_tests_conftest = _sidecar_conftest()
procs = _conftest.procs  # fixtures, re-exported by each stage's conftest
sidecar = _conftest.sidecar
read_jsonl_ids = _conftest.read_jsonl_ids


def session_peer(
    make: Callable[[Path], PeerT], name: str, start: str = "start", stop: str = "stop"
) -> Callable[..., Iterator[PeerT]]:
    """A session-scoped fixture called `name`: make(a fresh temp dir) then peer.<start>(); yields the
    peer and calls peer.<stop>() at the end, also when the start failed part-way."""

    @pytest.fixture(scope="session", name=name)
    def peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PeerT]:
        started: Any = make(tmp_path_factory.mktemp(name))
        try:
            getattr(started, start)()
            yield started
        finally:
            getattr(started, stop)()

    return peer


@dataclass
class Outage:
    """What ride_out_outage posted, and the error the backend showed while its peer was down."""

    first: list[dict[str, Any]]
    second: list[dict[str, Any]]
    error: str

    @property
    def everything(self) -> list[dict[str, Any]]:
        return self.first + self.second


def ride_out_outage(
    sc: Any,
    backend: str,
    files: Path,
    stop: Callable[[], object],
    start: Callable[[], object],
    *,
    stories: Callable[[], list[dict[str, Any]]] | None = None,
    chunks: int = 2,
    post: Callable[[list[dict[str, Any]]], None] | None = None,
    after_first: Callable[[list[dict[str, Any]]], object] | None = None,
    after_start: Callable[[], object] | None = None,
    wait_s: float = 60.0,
    catch_up_s: float = 120.0,
) -> Outage:
    """The outage story every backend stage tells, on a sidecar `sc` whose `backend` delivers beside a
    filesystem backend named `files` writing under the directory `files`:

    `first` delivered to both; the peer stopped (`stop`); `second` posted in `chunks` requests (through
    `post`, default: each answered 202); the filesystem backend keeps delivering while the backend's
    lag shows every undelivered event and its health a last error and a state other than ok; the
    peer started again (`start`, then `after_start` for what a restarted peer needs); the backend
    catches up; the filesystem holds every event once. The caller then reads its peer back."""
    stories = stories or (lambda: [e for _ in range(10) for e in job_story(subjobs=2)])

    def posted(chunk: list[dict[str, Any]]) -> None:
        assert sc.post(chunk).status_code == 202

    post = post or posted
    first = stories()
    post(first)
    wait_until(lambda: sc.lag(backend) == 0 and sc.lag("files") == 0, wait_s, "delivery before the outage")
    if after_first is not None:
        after_first(first)
    stop()
    try:
        second = stories()
        size = -(-len(second) // chunks)
        for i in range(0, len(second), size):
            post(second[i : i + size])
        wait_until(lambda: sc.lag("files") == 0, wait_s, "the filesystem backend to keep delivering")
        wait_until(lambda: sc.lag(backend) == len(second), wait_s, "the lag to show every undelivered event")
        status = wait_until(
            lambda: (s := sc.health()["backends"][backend])["last_error"] and s["state"] != "ok" and s,
            wait_s,
            "the failed attempts to show in /v1/healthz",
        )
    finally:
        start()
    if after_start is not None:
        after_start()
    wait_until(lambda: sc.lag(backend) == 0, catch_up_s, "catching up once the peer is back")
    outage = Outage(first, second, status["last_error"])
    assert sorted(read_jsonl_ids(files)) == sorted(e["event_id"] for e in outage.everything)
    return outage


def checked_doc_example(name: str, tmp_path: Path, **env: str) -> dict[str, Any]:
    """The YAML example docs/sidecar.md marks `<!-- doc-test-<name>: config -->`, parsed, after
    asserting that `wafermon-sidecar --check-config` accepts it as written: only its spool path moves
    under tmp_path, and `env` (its `${SECRETS}`) is the whole environment of the check."""
    docs = (_conftest.REPO / "docs" / "sidecar.md").read_text()
    example = re.search(rf"<!-- doc-test-{re.escape(name)}: config -->\n```yaml\n(.*?)```", docs, re.DOTALL)
    assert example is not None, f"docs/sidecar.md lost its {name} example"
    config: dict[str, Any] = yaml.safe_load(example.group(1))
    config["spool"]["path"] = str(tmp_path / "spool")
    path = tmp_path / "sidecar.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [_conftest.SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return config
