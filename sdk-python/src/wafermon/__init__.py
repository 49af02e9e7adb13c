"""wafermon: job monitoring for batch work.

Report what a job and its sub-jobs are doing — started, progress, heartbeats, finished (succeeded,
failed, cancelled), duration, CPU and memory — through the C core ``libwafermon``, which delivers
the events to the local sidecar or straight to a backend without ever blocking the job::

    import wafermon

    with wafermon.job("batch-12345", site_id="fab1", metadata={"recipe": "r7"}) as job:
        for wafer in ("w1", "w2"):
            with job.subjob(wafer) as w:
                w.progress(0.5, step="etch")

See docs/python.md for configuration, the exception table, ``wafermon run`` and the
compatibility layer (:mod:`wafermon.compat`).
"""

from __future__ import annotations

from ._client import Client
from ._config import SDK_VERSION as __version__
from ._default import configure, default_client, flush, shutdown, stats
from ._hotpath import bind as _bind_hot_path
from ._job import Job
from ._native import cstr
from ._native import lib as _lib
from ._scope import JobScope
from ._speedups import job  # a C function: no Python frame per job (types in _speedups.pyi)
from .compat import AppRef, Monitored, SidecarEmitter
from .errors import (
    ClosedError,
    ConfigError,
    EncodingError,
    ForkedError,
    InternalError,
    InvalidArgumentError,
    MetadataError,
    OutOfMemoryError,
    QueueFullError,
    SpoolLockedError,
    StateError,
    TooLargeError,
    WafermonError,
    WafermonIOError,
    WafermonTimeoutError,
)
from .errors import deprecated_alias as _deprecated_alias

_bind_hot_path()


def __getattr__(name: str) -> type[WafermonError]:
    # wafermon.IOError / wafermon.TimeoutError: the old names, deprecated (they hid the built-ins).
    return _deprecated_alias(__name__, name)


def core_version() -> str:
    """The version of the loaded libwafermon, e.g. ``"0.1.0"``."""
    return cstr(_lib.wm_version_string())


__all__ = [
    "AppRef",
    "Client",
    "ClosedError",
    "ConfigError",
    "EncodingError",
    "ForkedError",
    "InternalError",
    "InvalidArgumentError",
    "Job",
    "JobScope",
    "MetadataError",
    "Monitored",
    "OutOfMemoryError",
    "QueueFullError",
    "SidecarEmitter",
    "SpoolLockedError",
    "StateError",
    "TooLargeError",
    "WafermonError",
    "WafermonIOError",
    "WafermonTimeoutError",
    "__version__",
    "configure",
    "core_version",
    "default_client",
    "flush",
    "job",
    "shutdown",
    "stats",
]
