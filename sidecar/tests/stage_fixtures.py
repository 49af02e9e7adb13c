"""What the conftest of every backend stage (sidecar/tests_<peer>/) shares: the sidecar fixtures of
sidecar/tests/conftest.py, loaded once under the module name `sidecar_tests_conftest` (both files are
named `conftest`, so neither can import the other by name), and session_peer(), the fixture that
starts one real peer for the whole session and always stops it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest

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


_conftest = _sidecar_conftest()
procs = _conftest.procs  # fixtures, re-exported by each stage's conftest
sidecar = _conftest.sidecar


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
