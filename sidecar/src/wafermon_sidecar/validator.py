"""Where validation runs: in the event loop's process (on a thread of its own when the native check
is built), or in worker processes.

Validation is CPU-bound Python work and the GIL lets one process use one core, so with
ingest.validation_workers > 0 large bodies are judged in separate processes while this one keeps
serving HTTP and writing the spool. Each worker is `python -m wafermon_sidecar.validation_worker`
on one end of a socketpair: the body goes over as it is and the verdict comes back framed, with
the accepted NDJSON only when it differs from the body (an all-valid NDJSON body, what the C core
sends, comes back as a few bytes). No executor, no pickling, no helper threads here competing for
the GIL. Workers inherit nothing but their socket, hold no state, and end at end of file on it, so a
kill -9 of the sidecar leaves nothing behind; a worker that dies is replaced and the body judged
in-process. Small bodies stay in-process: shipping them costs more than judging them.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import msgspec

from wafermon_schema import Problem

from .validation import BatchFormatError, Verdict, judge, native_check_built
from .validation_worker import BUFFER_BYTES, HEAD, REQUEST, STATUS_FORMAT_ERROR

log = logging.getLogger(__name__)

OFFLOAD_MIN_BYTES = 32 * 1024
_decode_meta = msgspec.msgpack.Decoder().decode


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


async def _spawn() -> _Worker:
    ours, theirs = socket.socketpair()
    for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        ours.setsockopt(socket.SOL_SOCKET, option, BUFFER_BYTES)
    proc = subprocess.Popen(
        [sys.executable, "-m", "wafermon_sidecar.validation_worker", str(theirs.fileno())],
        pass_fds=(theirs.fileno(),),
        stdin=subprocess.DEVNULL,
    )
    theirs.close()
    reader, writer = await asyncio.open_unix_connection(sock=ours, limit=BUFFER_BYTES)
    return _Worker(proc, reader, writer)


def _stop(worker: _Worker) -> None:
    worker.writer.close()  # end of file: the worker exits
    try:
        worker.proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        worker.proc.kill()
        worker.proc.wait()


class Validator:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: list[_Worker] = []
        self._thread: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        if self.workers > 0:
            self._idle = asyncio.Queue()
            for _ in range(self.workers):
                worker = await _spawn()
                self._all.append(worker)
                self._idle.put_nowait(worker)
        elif native_check_built():
            # The native check releases the GIL, so on its own thread it runs beside the event loop,
            # which meanwhile reads the next requests. One thread: the host's other cores run the SDKs.
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="validation")

    async def judge(self, body: bytes) -> Verdict:
        if len(body) < OFFLOAD_MIN_BYTES:
            return judge(body)
        if self._thread is not None:
            return await asyncio.get_running_loop().run_in_executor(self._thread, judge, body)
        if self._idle is None:
            return judge(body)
        worker = await self._idle.get()
        try:
            return await self._remote(worker, body)
        except (asyncio.IncompleteReadError, OSError):  # OSError includes ConnectionError: the worker died
            log.error("validation worker %d died; starting another, judging this body in-process", worker.proc.pid)
            self._all.remove(worker)
            _stop(worker)
            worker = await _spawn()
            self._all.append(worker)
            return judge(body)
        finally:
            if self._idle is not None:
                self._idle.put_nowait(worker)

    @staticmethod
    async def _remote(worker: _Worker, body: bytes) -> Verdict:
        worker.writer.write(REQUEST.pack(len(body)))
        worker.writer.write(body)
        await worker.writer.drain()
        meta_len, payload_len = HEAD.unpack(await worker.reader.readexactly(HEAD.size))
        status, message, accepted, total, problems, same = _decode_meta(await worker.reader.readexactly(meta_len))
        if status == STATUS_FORMAT_ERROR:
            raise BatchFormatError(message)
        payload = await worker.reader.readexactly(payload_len) if payload_len else b""
        if same:
            payload = body.strip()
        return Verdict(payload, accepted, [Problem(*p) for p in problems], total)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        for worker in self._all:
            _stop(worker)
        self._all.clear()
        self._idle = None
