"""Background loops that outlive their own failures, and stopping them (liveness, maintenance,
alert evaluation)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable


async def every(interval_s: float, run: Callable[[], Awaitable[object]], failed: Callable[[Exception], None]) -> None:
    """Await run() every interval_s seconds, for ever. A failure goes to failed() and the next tick
    retries; cancelling the task (a BaseException) ends the loop."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await run()
        except Exception as exc:  # keep the loop alive
            failed(exc)


async def stop_all(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel every task, then wait until each has ended."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
