"""``wafermon.job(...)``: a job scope usable as ``with``, ``async with`` and as a decorator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from . import _speedups
from ._job import Job, finish_for

P = ParamSpec("P")
R = TypeVar("R")


class JobScope(_speedups.ScopeCore):
    """Starts a job when entered and finishes it when left: succeeded when the block returns,
    failed with the exception's type and message when it raises (the exception propagates),
    cancelled on ``KeyboardInterrupt`` / ``asyncio.CancelledError``.

    ``JobScope(business_key=None, *, site_id=None, metadata=None, client=None)``. Arguments are
    checked when the scope is made, so a bad key or metadata raises at the call and nothing is
    emitted. As a decorator each call of the function is its own job. One scope object may be
    entered again (nested or repeated) but not from several threads at once; decorated functions
    have no such limit.

    ``__init__``, ``start``, ``__enter__`` and ``__exit__`` are the C base type's
    (bindings/python/speedups.c): the per-job hot path, measured by bench/python_job_overhead.py,
    and the one place where the SDK starts a job. They defer to :func:`wafermon._metadata.text` /
    :func:`~wafermon._metadata.encode` for anything but a str or None, and to
    :func:`wafermon._job.finish_for` when the block raised.
    """

    __slots__ = ()

    async def __aenter__(self) -> Job:
        job: Job = self.__enter__()
        return job

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
