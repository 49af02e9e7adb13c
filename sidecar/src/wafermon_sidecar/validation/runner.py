"""Where the routes' bodies are judged: large ones on one validation thread, the rest in the event loop.

The native check releases the GIL, so on its own thread it runs beside the event loop, which
meanwhile reads and answers the next requests. One thread: the host's other cores run the SDKs.
Small bodies stay on the loop, where handing them over would cost more than judging them; without
the native check every body does (the authority holds the GIL throughout).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from . import batch
from .batch import Verdict, judge

OFFLOAD_MIN_BYTES = 32 * 1024


class Validator:
    """Judges bodies for the ingest routes; start() in the app's lifespan, close() at its end."""

    def __init__(self) -> None:
        self._thread: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        if batch.native_check_built():
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="validation")

    async def judge(self, body: bytes) -> Verdict:
        """The verdict on one body (see batch.judge). Raises BatchFormatError."""
        if self._thread is None or len(body) < OFFLOAD_MIN_BYTES:
            return judge(body)
        return await asyncio.get_running_loop().run_in_executor(self._thread, judge, body)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
