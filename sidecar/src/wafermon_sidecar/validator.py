"""Where validation runs: in the event loop's process, or in a pool of worker processes.

Validation is CPU-bound Python work and the GIL lets one process use one core, so with
ingest.validation_workers > 0 large bodies are judged in separate processes while this one keeps
serving HTTP and writing the spool. Workers are started with "spawn" so they inherit no sockets or
spool file descriptors, and they are stateless, so a crash or kill of the sidecar leaves nothing of
theirs to recover. Small bodies stay in-process: shipping them costs more than judging them.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .validation import Verdict, judge, self_check

log = logging.getLogger(__name__)

OFFLOAD_MIN_BYTES = 32 * 1024
PR_SET_PDEATHSIG = 1


def _warm() -> bool:
    return self_check()


def _die_with_parent(parent_pid: int) -> None:
    """Runs first in each worker: a kill -9 of the sidecar must not leave workers behind (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


class Validator:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    async def start(self) -> None:
        if self.workers > 0:
            self._pool = self._new_pool()
            loop = asyncio.get_running_loop()
            # Pay the workers' start-up (imports, model derivation) before the first request does.
            await asyncio.gather(*(loop.run_in_executor(self._pool, _warm) for _ in range(self.workers)))

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_die_with_parent,
            initargs=(os.getpid(),),
        )

    async def judge(self, body: bytes) -> Verdict:
        if self._pool is None or len(body) < OFFLOAD_MIN_BYTES:
            return judge(body)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, judge, body)
        except BrokenProcessPool:
            log.error("a validation worker died; starting a new pool and judging this body in-process")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return judge(body)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
