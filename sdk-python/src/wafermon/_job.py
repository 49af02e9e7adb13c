"""A running job or sub-job: the handle over ``wm_job`` and its emits."""

from __future__ import annotations

import asyncio
import math
import os
import warnings
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _children, _metadata, _speedups
from ._native import cstr, ffi, lib
from .errors import InvalidArgumentError, WafermonError, raise_status

if TYPE_CHECKING:
    from ._client import Client

_NAN = math.nan
_STATE = lib.WM_E_STATE
# os.getpid() is a system call each time; the pid only changes at fork, so track it there.
_pid = os.getpid()


def _after_fork_in_child() -> None:
    global _pid
    _pid = os.getpid()
    _speedups.set_pid(_pid)


_speedups.set_pid(_pid)
os.register_at_fork(after_in_child=_after_fork_in_child)
_NULL = ffi.NULL
_CANCELLING = (KeyboardInterrupt, asyncio.CancelledError, GeneratorExit)
_METRICS = frozenset({"duration_s", "cpu_user_s", "cpu_sys_s", "mem_max_mb"})


def address(pointer: Any) -> int:
    """A cffi pointer's address, as the C base types take it."""
    return int(ffi.cast("uintptr_t", pointer))


class Job(_speedups.JobCore):
    """A started job or sub-job. Finish it once with :meth:`succeed`, :meth:`fail` or
    :meth:`cancel`; used as a context manager it finishes itself (see :func:`wafermon.job`).

    A handle that is garbage-collected while still running is finished as cancelled by the core,
    so no job is left running forever. Methods are thread-safe.
    """

    # The handle, its client, pid, keys and parent live in the C base type (bindings/python/
    # speedups.c), which also frees the handle when the object goes: Job(address, client,
    # business_key, sub_key, parent).
    __slots__ = ()

    # ---- identity -------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The job's ``entity_id`` (a UUID string), fixed for its life."""
        if self._id is None:
            buf = ffi.new("char[37]")
            lib.wm_job_id(self._ptr, buf, 37)
            self._id = cstr(buf)
        return self._id

    entity_id = id

    @property
    def finished(self) -> bool:
        """True once the job has been finished (any outcome)."""
        return bool(lib.wm_job_is_finished(self._ptr))

    @property
    def client(self) -> Client:
        """The client the job emits through."""
        return self._client

    def __repr__(self) -> str:
        key = self.sub_key if self.parent is not None else self.business_key
        kind = "subjob" if self.parent is not None else "job"
        return f"<wafermon.Job {kind} {key!r} id={self.id} finished={self.finished}>"

    # ---- emits ----------------------------------------------------------------------------

    def subjob(self, sub_key: str | None = None, *, metadata: Mapping[str, Any] | None = None) -> Job:
        """Starts a sub-job (emits its "started") and returns it; also a context manager.

        It inherits this job's client, site and business key. Works in a forked child on a job
        started in the parent: that is how a child reports its own share of the work.
        """
        key = _metadata.text("sub_key", sub_key)
        meta = _metadata.encode(metadata)
        out = ffi.new("wm_job **")
        status = lib.wm_subjob_start(self._ptr, key, meta, out)
        if status:
            raise_status(status, "subjob")
        return Job(address(out[0]), self._client, self.business_key, sub_key, self)

    def progress(
        self, fraction: float | None = None, /, metadata: Mapping[str, Any] | None = None, **fields: Any
    ) -> None:
        """Emits "progress". ``fraction`` in [0, 1] or None; keyword fields join ``metadata``:
        ``job.progress(0.5, step="etch")``."""
        if fraction is None:
            value = _NAN
        elif type(fraction) is float or (isinstance(fraction, int | float) and not isinstance(fraction, bool)):
            value = float(fraction)
        else:
            raise InvalidArgumentError(
                f"progress: fraction must be a number in [0, 1] or None, got {type(fraction).__name__}"
            )
        if fields:
            metadata = {**metadata, **fields} if metadata else fields
        meta = _encoded(metadata)
        status = lib.wm_job_progress(self._ptr, value, meta)
        if status:
            raise_status(status, "progress")

    def heartbeat(self) -> None:
        """Emits "heartbeat": the job is alive."""
        status = lib.wm_job_heartbeat(self._ptr)
        if status:
            raise_status(status, "heartbeat")

    def set_metric(self, name: str, value: float) -> None:
        """Overrides a measured metric of the coming "finished" event (``duration_s``,
        ``cpu_user_s``, ``cpu_sys_s``, ``mem_max_mb``), e.g. for a child process's figures."""
        if name not in _METRICS:
            raise InvalidArgumentError(f"set_metric: name must be one of {', '.join(sorted(_METRICS))}, got {name!r}")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidArgumentError(f"set_metric: {name} must be a number, got {type(value).__name__}")
        status = lib.wm_job_set_metric(self._ptr, name.encode(), float(value))
        if status:
            raise_status(status, "set_metric")

    def set_trace(self, trace_id: str, span_id: str) -> None:
        """Attaches W3C trace context (32 and 16 lower-case hex digits) to later events."""
        status = lib.wm_job_set_trace(
            self._ptr,
            _metadata.text("trace_id", trace_id, optional=False),
            _metadata.text("span_id", span_id, optional=False),
        )
        if status:
            raise_status(status, "set_trace")

    def succeed(self, metadata: Mapping[str, Any] | None = None) -> None:
        """Finishes the job as succeeded."""
        self._finished(lib.wm_job_succeed(self._ptr, _encoded(metadata)), "succeed")

    def fail(
        self, error: BaseException | str, message: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Finishes the job as failed: ``fail(exc)`` takes the exception's type name and message,
        ``fail("ExitCode", "exit code 3")`` gives them as text."""
        if isinstance(error, BaseException):
            error_type = type(error).__name__
            if message is None:
                message = str(error)
        else:
            error_type = error
        etype = _metadata.text("error_type", error_type, optional=False)
        if not etype:
            raise InvalidArgumentError("fail: error_type must not be empty")
        msg = _metadata.text("error_message", message)
        self._finished(lib.wm_job_fail(self._ptr, etype, msg, _encoded(metadata)), "fail")

    def cancel(self, metadata: Mapping[str, Any] | None = None) -> None:
        """Finishes the job as cancelled."""
        self._finished(lib.wm_job_cancel(self._ptr, _encoded(metadata)), "cancel")

    def _finished(self, status: int, what: str) -> None:
        """After a finishing call: raises its failure; in a child process, hands on the share."""
        if status:
            raise_status(status, what)
        if _children.is_child():
            _share_finished(self)

    # ---- context manager: finishes with the block's outcome --------------------------------

    def __enter__(self) -> Job:
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        finish_for(self, exc)

    async def __aenter__(self) -> Job:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        finish_for(self, exc)


def _encoded(metadata: Mapping[str, Any] | None) -> Any:
    return _metadata.encode(metadata) if metadata else _metadata.NULL


def _share_finished(job: Job) -> None:
    # In a child process the outermost job or sub-job started here is its share of the work:
    # flushed now, since the process may be terminated as soon as the task returns.
    parent = job.parent
    if parent is None or parent._pid != job._pid:
        _children.flush_share(job._client)


def finish_for(job: Job, exc: BaseException | None) -> None:
    """Finishes ``job`` with the outcome of the block that raised ``exc`` (None: it returned).

    Nothing happens when the job was already finished inside the block, or when this process is
    a fork of the one that started it (the job's own events belong to the parent).
    """
    if job._pid != _pid:
        return
    try:
        if exc is None or (isinstance(exc, SystemExit) and exc.code in (0, None)):
            status = lib.wm_job_succeed(job._ptr, _NULL)
            # Already finished inside the block: the explicit outcome stands.
            if status and status != _STATE:
                raise_status(status, "succeed")
            if not status and _children.is_child():
                _share_finished(job)
            return
        if lib.wm_job_is_finished(job._ptr):
            return
        elif isinstance(exc, _CANCELLING):
            job.cancel({"wafermon.reason": type(exc).__name__})
        else:
            job.fail(exc)
    except WafermonError as problem:
        if exc is None:
            raise
        # Never hide the block's own exception behind a monitoring problem.
        warnings.warn(f"wafermon: could not finish job {job.id}: {problem}", RuntimeWarning, stacklevel=3)
