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

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._client import Client
from ._config import SDK_VERSION as __version__
from ._default import configure, default_client, flush, shutdown, stats
from ._hotpath import bind as _bind_hot_path
from ._job import Job
from ._monitor import with_monitor
from ._native import cstr
from ._native import lib as _lib
from ._scope import JobScope
from .compat import AppRef, Monitored, SidecarEmitter
from .errors import (
    ClosedError,
    ConfigError,
    EncodingError,
    ForkedError,
    InternalError,
    InvalidArgumentError,
    IOError,
    MetadataError,
    OutOfMemoryError,
    QueueFullError,
    SpoolLockedError,
    StateError,
    TimeoutError,
    TooLargeError,
    WafermonError,
)

F = TypeVar("F", bound=Callable[..., Any])


@overload
def job(business_key: F, /) -> F: ...
@overload
def job(
    business_key: str | None = None,
    /,
    *,
    site_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    client: Client | None = None,
    monitor: Mapping[str, Any] | None = None,
) -> JobScope: ...
def job(
    business_key: str | Callable[..., Any] | None = None,
    /,
    *,
    site_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    client: Client | None = None,
    monitor: Mapping[str, Any] | None = None,
) -> JobScope | Callable[..., Any]:
    """A job: ``with wafermon.job("batch-1", site_id="fab1", metadata={...}) as job:``, also
    ``async with`` and ``@wafermon.job("batch-1")`` on plain and async functions (``@wafermon.job``
    without arguments uses the function's qualified name as the business key).

    The job starts when the block is entered (or the function called) and finishes when it is
    left: succeeded, failed with the exception's type and message (which propagates), or
    cancelled on ``KeyboardInterrupt`` / ``asyncio.CancelledError``. Without ``client`` it runs
    on the default client (see :func:`configure`). ``site_id`` None: the configured site.
    ``monitor``: a schedule monitor declared from code, e.g. ``{"schedule": "0 2 * * *", "tz":
    "Europe/Berlin", "max_runtime_s": 3600}``, sent in the metadata under ``"wafermon.monitor"``
    (docs/alerting.md); InvalidArgumentError if it is not a mapping.
    """
    metadata = with_monitor(metadata, monitor)
    if callable(business_key):
        fn = business_key
        return JobScope(fn.__qualname__, site_id=site_id, metadata=metadata, client=client)(fn)
    return JobScope(business_key, site_id=site_id, metadata=metadata, client=client)


def _job_fallback(*args: Any, **kwargs: Any) -> Any:
    """From the C job(): (business_key, site_id, metadata, client), or the call as given when it has
    a keyword the C function does not take (monitor=)."""
    if kwargs or len(args) != 4:
        return _python_job(*args, **kwargs)
    business_key, site_id, metadata, client = args
    return _python_job(business_key, site_id=site_id, metadata=metadata, client=client)


# At run time wafermon.job is the same function in C (wafermon._speedups.job: no Python frame per
# job); it hands a business_key that is not str or None (the bare decorator) to the one above.
_python_job = job
_bind_hot_path(job_fallback=_job_fallback)
if not TYPE_CHECKING:
    from ._speedups import job


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
    "IOError",
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
    "TimeoutError",
    "TooLargeError",
    "WafermonError",
    "__version__",
    "configure",
    "core_version",
    "default_client",
    "flush",
    "job",
    "shutdown",
    "stats",
]
