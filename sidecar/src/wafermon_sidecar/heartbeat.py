"""The sidecar reports itself to each managed_api backend's gateway: `POST /v1/sidecars/heartbeat`
every `heartbeat_interval_s` (that backend's config; default 30 s, 0 turns it off) with its host, a
stable sidecar id, version, uptime and, per backend, the spool backlog (events, bytes, age of the
oldest waiting event), state and last error, plus its latest errors.

The sidecar id is a UUID kept in `<spool.path>/sidecar-id`, so a restarted sidecar is the same
sidecar. The oldest waiting event's age is the delivery worker's lag_seconds (from the time the
spool wrote its record; the same figure /v1/healthz shows). A heartbeat that fails is logged (once
per run of failures) and not retried: the next one is due an interval later.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import socket
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from . import __version__
from .backends.managed_api import MANAGED_PATH, ManagedApiBackend
from .delivery import DeliveryWorker
from .spool import Spool

log = logging.getLogger(__name__)

HEARTBEAT_PATH = "/v1/sidecars/heartbeat"
MAX_ERRORS = 10


def sidecar_id(spool_path: Path) -> str:
    """The id kept beside the spool (created on first use)."""
    path = spool_path / "sidecar-id"
    with contextlib.suppress(FileNotFoundError):
        text = path.read_text().strip()
        if text:
            return text
    spool_path.mkdir(parents=True, exist_ok=True)
    new = str(uuid.uuid4())
    tmp = path.with_suffix(".tmp")
    tmp.write_text(new + "\n")
    tmp.replace(path)
    return new


def backlog_bytes(spool: Spool, seq: int) -> int:
    """Bytes of the spool's records from the one holding `seq` to the end."""
    total = 0
    for seg in spool.segments:
        if seg.end_seq <= seq or not seg.firsts:
            continue
        i = max(bisect.bisect_right(seg.firsts, seq) - 1, 0)
        total += seg.size - seg.offsets[i]
    return total


class Heartbeat:
    def __init__(self, spool: Spool, workers: list[DeliveryWorker], spool_path: Path, started_at: float) -> None:
        self.spool = spool
        self.workers = workers
        self.started_at = started_at
        self.sidecar_id = sidecar_id(spool_path)
        self.host = socket.gethostname()
        self.errors: deque[str] = deque(maxlen=MAX_ERRORS)
        self._seen_errors: dict[str, float | None] = {}
        self._failing: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self.targets = [(w.name, w.backend) for w in workers if isinstance(w.backend, ManagedApiBackend)
                        and w.backend.settings.heartbeat_interval_s > 0]  # fmt: skip
        self.tick_s = min([1.0] + [b.settings.heartbeat_interval_s for _n, b in self.targets])

    def start(self) -> None:
        if self.targets:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def report(self, interval_s: float) -> dict[str, Any]:
        backends = []
        for w in self.workers:
            waiting_from = max(w.cursor.seq, self.spool.first_seq)
            backends.append({
                "name": w.name, "type": w.settings.type, "lag_events": w.lag,
                "lag_bytes": backlog_bytes(self.spool, waiting_from) if w.lag else 0,
                "oldest_age_s": w.lag_seconds() if w.lag else None,
                "state": w.state(), "last_error": w.last_error, "last_error_at": w.last_error_at,
            })  # fmt: skip
            if w.last_error and self._seen_errors.get(w.name) != w.last_error_at:
                self._seen_errors[w.name] = w.last_error_at
                self.errors.append(f"{w.name}: {w.last_error}"[:2000])
        return {"sidecar_id": self.sidecar_id, "host": self.host, "version": __version__,
                "uptime_s": round(time.time() - self.started_at, 3), "interval_s": interval_s,
                "backends": backends, "errors": list(self.errors)}  # fmt: skip

    async def _run(self) -> None:
        sessions: dict[str, aiohttp.ClientSession] = {}
        due = {name: 0.0 for name, _b in self.targets}
        try:
            while True:
                now = time.monotonic()
                for name, backend in self.targets:
                    if now >= due[name]:
                        due[name] = now + backend.settings.heartbeat_interval_s
                        await self._send(name, backend, sessions)
                await asyncio.sleep(self.tick_s)
        finally:
            for session in sessions.values():
                await session.close()

    async def _send(self, name: str, backend: ManagedApiBackend, sessions: dict[str, aiohttp.ClientSession]) -> None:
        settings = backend.settings
        if name not in sessions:
            headers = {"Content-Type": "application/json"}
            if settings.api_key:
                headers["Authorization"] = f"Bearer {settings.api_key}"
            sessions[name] = aiohttp.ClientSession(
                headers=headers, timeout=aiohttp.ClientTimeout(total=settings.timeout),
                connector=aiohttp.TCPConnector(ssl=settings.verify_ssl, limit=1),
            )  # fmt: skip
        base = settings.url.rstrip("/")
        url = (base[: -len(MANAGED_PATH)] if base.endswith(MANAGED_PATH) else base) + HEARTBEAT_PATH
        body = msgspec.json.encode(self.report(settings.heartbeat_interval_s))
        try:
            async with sessions[name].post(url, data=body) as response:
                text = await response.text(errors="replace")
                if response.status >= 300:
                    raise RuntimeError(f"HTTP {response.status}: {text[:300]}")
        except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
            if name not in self._failing:
                self._failing.add(name)
                log.warning("heartbeat to %s failed (logged once until it works again): %s", url, exc)
            return
        if name in self._failing:
            self._failing.discard(name)
            log.info("heartbeat to %s works again", url)
