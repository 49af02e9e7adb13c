"""``wafermon.job(...)``: a job scope usable as ``with``, ``async with`` and as a decorator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from . import _job, _metadata
from ._job import Job, finish_for
from ._native import ffi, lib
from .errors import ClosedError, raise_status

if TYPE_CHECKING:
    from ._client import Client

_NULL = ffi.NULL
_STATE = lib.WM_E_STATE
# Bound once: attribute lookups on the cffi lib object are not cached by the interpreter.
_wm_job_start = lib.wm_job_start
_wm_job_succeed = lib.wm_job_succeed
P = ParamSpec("P")
R = TypeVar("R")


class JobScope:
    """Starts a job when entered and finishes it when left: succeeded when the block returns,
    failed with the exception's type and message when it raises (the exception propagates),
    cancelled on ``KeyboardInterrupt`` / ``asyncio.CancelledError``.

    Arguments are checked when the scope is made, so a bad key or metadata raises at the call and
    nothing is emitted. As a decorator each call of the function is its own job. One scope object
    may be entered again (nested or repeated) but not from several threads at once; decorated
    functions have no such limit.
    """

    __slots__ = ("_business_key", "_client", "_job", "_key", "_meta", "_outer", "_site")

    def __init__(
        self,
        business_key: str | None = None,
        *,
        site_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        client: Client | None = None,
    ) -> None:
        self._key = _metadata.text("business_key", business_key)
        self._site = _metadata.text("site_id", site_id)
        self._meta = _metadata.encode(metadata)
        self._business_key = business_key
        self._client = client
        self._job: Job | None = None  # the innermost entered job
        self._outer: list[Job] = []  # jobs of enclosing entries of this same scope

    def start(self) -> Job:
        """Starts the job now and returns it (what entering the scope does)."""
        client = self._client
        if client is None:
            from ._default import default_client

            client = default_client()
        return client._start(self._key, self._site, self._meta, self._business_key)

    # __enter__/__exit__ inline Client._start and the success path of finish_for: this is the
    # per-job hot path (bench/python_job_overhead.py), and each Python call frame costs.
    def __enter__(self) -> Job:
        client = self._client
        if client is None:
            from ._default import default_client

            client = default_client()
        lock = client._lock
        lock.acquire()  # acquire/release: half the cost of a `with` block on this hot path
        try:
            ptr = client._ptr
            if ptr is None:
                raise ClosedError("the client is closed")
            status = _wm_job_start(ptr, self._key, self._site, self._meta, client._out)
            job_ptr = client._out[0]
        finally:
            lock.release()
        if status:
            raise_status(status, "job")
        job = Job(job_ptr, client, self._business_key, None, None)
        if self._job is not None:
            self._outer.append(self._job)
        self._job = job
        return job

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        job = self._job
        if job is None:
            raise RuntimeError("JobScope exited more often than entered")
        self._job = self._outer.pop() if self._outer else None
        if exc is None and job._pid == _job._pid:
            status = _wm_job_succeed(job._ptr, _NULL)
            if status and status != _STATE:  # already finished in the block: that outcome stands
                raise_status(status, "succeed")
            return
        finish_for(job, exc)

    async def __aenter__(self) -> Job:
        return self.__enter__()

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(et, exc, tb)

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorates ``fn`` (plain or ``async def``): every call runs as its own job."""
        if inspect.iscoroutinefunction(fn):
            async_fn = cast(Callable[..., Any], fn)

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                job = self.start()
                try:
                    result = await async_fn(*args, **kwargs)
                except BaseException as exc:
                    finish_for(job, exc)
                    raise
                finish_for(job, None)
                return result

            return cast(Callable[P, R], run_async)

        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            job = self.start()
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                finish_for(job, exc)
                raise
            finish_for(job, None)
            return result

        return run
