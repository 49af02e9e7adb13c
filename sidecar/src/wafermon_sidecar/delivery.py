"""One delivery worker per backend: reads the spool from its own cursor and hands batches to the backend.

Workers share nothing but the spool, so a slow or dead backend only grows its own lag. Transient
failures are retried forever (with exponential backoff, jitter and a circuit breaker) because dropping
them would lose data; permanent failures go to the dead-letter file and delivery moves on.

A backend with a filter or transform (shaping.py) gets only the records its pipeline keeps; its cursor
moves past the events left out as past delivered ones (counted as filtered), and a batch left entirely
empty moves the cursor without a call to the backend.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import errno
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from .backends.base import Backend, Batch, PermanentError, RequestTooLarge, TransientError
from .breaker import BreakerState, CircuitBreaker
from .config import BackendSettings, ConfigError, Delivery, Ingest
from .cursor import Cursor
from .deadletter import DeadLetters
from .health import CODES, Facts, Status, classify
from .metrics import Metrics
from .shaping import Shaper
from .spool import CorruptRecord, Spool

log = logging.getLogger(__name__)


def batch_limits(settings: BackendSettings, backend_class: type[Backend], ingest: Ingest) -> tuple[int, int]:
    """(events, bytes) per delivery batch of one backend: its own max_batch_size / max_batch_bytes or
    ingest's. Raises ConfigError naming the key when that is above what the backend's receiver
    documents it takes in one request (Backend.max_request_events / max_request_bytes)."""
    events = settings.max_batch_size or ingest.max_batch_size
    size = settings.max_batch_bytes or ingest.max_batch_bytes
    for key, value, own, limit, unit in (
        ("max_batch_size", events, settings.max_batch_size, backend_class.max_request_events, "events"),
        ("max_batch_bytes", size, settings.max_batch_bytes, backend_class.max_request_bytes, "bytes"),
    ):
        if limit is not None and value > limit:
            where = f"backends[{settings.name}].{key}" if own else f"ingest.{key} (backend {settings.name!r})"
            raise ConfigError(
                f"{where} is {value}, but a {settings.type} backend's receiver takes at most {limit} {unit} "
                f"in one request; set backends[{settings.name}].{key} to {limit} or less"
            )
    return events, size


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Exponential backoff with "equal jitter": between half and all of min(max, initial·2^(n-1))."""
    ceiling = min(maximum, initial * (2 ** min(attempt - 1, 30)))
    return random.uniform(ceiling / 2, ceiling)


class DeliveryWorker:
    def __init__(
        self,
        settings: BackendSettings,
        backend: Backend,
        spool: Spool,
        cursor: Cursor,
        delivery: Delivery,
        ingest: Ingest,
        metrics: Metrics,
        dead_letters: DeadLetters,
        on_cursor_persisted: Callable[[], None],
        shaper: Shaper | None = None,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.shaper = shaper
        self.spool = spool
        self.cursor = cursor
        self.delivery = delivery
        self.batch_size, self.batch_bytes = batch_limits(settings, type(backend), ingest)
        self.flush_interval = settings.flush_interval if settings.flush_interval is not None else ingest.flush_interval
        self.metrics = metrics
        self.dead_letters = dead_letters
        self.on_cursor_persisted = on_cursor_persisted
        self.breaker = CircuitBreaker(
            delivery.breaker_failure_threshold, delivery.breaker_reset_s, delivery.breaker_max_reset_s
        )
        self.initialized = False
        self.delivered = 0
        self.dead_lettered = 0
        self.filtered = 0
        self.failed = 0  # events skipped as unreadable on the spool
        self.attempts_failed = 0
        self.last_dead_letter_at: float | None = None
        counted = {s: metrics.processed.labels(settings.name, s) for s in ("delivered", "filtered", "dead_lettered",
                                                                           "failed")}  # fmt: skip
        self._count_delivered, self._count_filtered = counted["delivered"], counted["filtered"]
        self._count_dead, self._count_failed = counted["dead_lettered"], counted["failed"]
        # The current read's shaping (see _step): filtered seqs not yet passed by the cursor, the spooled
        # bytes of the events read (first seq, events) for the dead-letter file, and the seq below which
        # a transform's dead letters are already written (a read again after a retry writes none twice).
        self._filtered_seqs: list[int] = []
        self._source: tuple[int, list[bytes]] | None = None
        self._dead_mark = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.last_success_at: float | None = None
        self._attempt = 0
        self._sending = False
        self._stopping = False
        self._last_persist = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def lag(self) -> int:
        return max(self.spool.next_seq - max(self.cursor.seq, self.spool.first_seq), 0)

    def lag_seconds(self) -> float:
        """Seconds since the oldest spooled event not yet confirmed (delivered, filtered, dead-lettered) was
        written; 0 when none waits."""
        written = self.spool.written_at(max(self.cursor.seq, self.spool.first_seq))
        return 0.0 if written is None else round(max(time.time() - written, 0.0), 3)

    def health(self) -> tuple[Status, str | None]:
        """(healthy | degraded | failing, why not healthy); the rules are in health.py."""
        now = time.time()
        facts = Facts(
            initialized=self.initialized,
            circuit=self.breaker.state.value,
            consecutive_failures=self._attempt,
            lag_seconds=self.lag_seconds(),
            last_error=self.last_error,
            dead_letter_age_s=None if self.last_dead_letter_at is None else now - self.last_dead_letter_at,
        )
        return classify(facts, self.delivery)

    def refresh_metrics(self) -> None:
        self.metrics.lag.labels(self.name).set(self.lag)
        self.metrics.lag_seconds.labels(self.name).set(self.lag_seconds())
        self.metrics.circuit.labels(self.name).set({"closed": 0, "half_open": 1, "open": 2}[self.breaker.state.value])
        self.metrics.health.labels(self.name).set(CODES[self.health()[0]])

    def state(self) -> str:
        if not self.initialized:
            return "initializing"
        breaker = self.breaker.state
        if breaker is not BreakerState.CLOSED:
            return str(breaker.value)
        return "retrying" if self._attempt else "ok"

    async def status(self) -> dict[str, Any]:
        try:
            details = await asyncio.wait_for(self.backend.health(), 2.0)
        except Exception as exc:  # health must never break /v1/healthz
            details = {"health_error": str(exc)}
        status, reason = self.health()
        return {
            "type": self.settings.type,
            "enabled": True,
            "priority": self.settings.priority,
            "status": status,
            "status_reason": reason,
            "state": self.state(),
            "circuit": self.breaker.state.value,
            "circuit_pause_s": self.breaker.reset_s,
            "lag_events": self.lag,
            "lag_seconds": self.lag_seconds(),
            "max_batch_events": self.batch_size,
            "max_batch_bytes": self.batch_bytes,
            "cursor_seq": self.cursor.seq,
            "delivered_events": self.delivered,
            "filtered_events": self.filtered,
            "dead_lettered_events": self.dead_lettered,
            "failed_events": self.failed,
            "failed_attempts": self.attempts_failed,
            "consecutive_failures": self._attempt,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "last_success_at": self.last_success_at,
            "last_dead_letter_at": self.last_dead_letter_at,
            "filter": self.settings.filter is not None,
            "transform": self.settings.transform,
            "details": details,
        }

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"deliver-{self.name}")

    async def stop(self, grace_s: float) -> None:
        """Let an in-flight batch finish (up to grace_s), then persist the cursor and close the backend."""
        self._stopping = True
        task = self._task
        if task is not None:
            if not self._sending:
                task.cancel()
            try:
                await asyncio.wait_for(asyncio.shield(task), grace_s)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        with contextlib.suppress(OSError):
            await asyncio.to_thread(self.cursor.persist)
        with contextlib.suppress(Exception):
            await self.backend.close()

    # --- the loop -----------------------------------------------------------------------------------

    async def _run(self) -> None:
        await self._initialize()
        while not self._stopping:
            try:
                await self._step()
                await self._maybe_persist()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug or a spool read error must not kill delivery for good
                log.exception("backend %s: delivery loop error", self.name)
                self._note_error(f"internal: {type(exc).__name__}: {exc}")
                await asyncio.sleep(1.0)

    async def _initialize(self) -> None:
        attempt = 0
        while not self._stopping:
            try:
                await self.backend.initialize()
                self.initialized = True
                return
            except Exception as exc:
                attempt += 1
                self._note_error(f"initialize failed: {exc}")
                log.warning("backend %s: initialize failed (%s); retrying", self.name, exc)
                await asyncio.sleep(
                    backoff_delay(attempt, self.delivery.backoff_initial_s, self.delivery.backoff_max_s)
                )

    async def _step(self) -> None:
        if not await self.spool.wait_for_data(self.cursor.seq, self.delivery.cursor_sync_interval_s):
            await self._maybe_persist(force=True)
            return
        available = self.spool.next_seq - self.cursor.seq
        if available < self.batch_size and self.flush_interval > 0:
            # A fuller batch is cheaper to send; wait a little for one, never longer than flush_interval.
            await self.spool.wait_for_data(self.cursor.seq + self.batch_size - 1, self.flush_interval)
        try:
            blocks, count, start, end = self.spool.read_blocks(self.cursor.seq, self.batch_size)
        except CorruptRecord as exc:
            # Unreadable bytes cannot be delivered by waiting; say so loudly and move past them.
            lost = exc.end_seq - max(self.cursor.seq, exc.first_seq)
            log.error("backend %s: skipping %d event(s) of a corrupt spool record: %s", self.name, lost, exc)
            self._note_error(f"skipped {lost} event(s) of a corrupt spool record: {exc}")
            self.failed += lost
            self._count_failed.inc(lost)
            self._filtered_seqs, self._source = [], None
            self._advance(exc.end_seq)
            return
        if start > self.cursor.seq:
            log.warning("backend %s: events %d..%d are no longer on the spool", self.name, self.cursor.seq, start - 1)
        if not count:
            self.cursor.seq = end
            return
        batch = Batch.from_blocks(blocks, count, start)
        if self.shaper is not None:
            batch = self._shape(batch)
            if not len(batch):
                self._advance(end)  # every event filtered out or dead: the backend is not called
                return
        wait = self.breaker.wait_s()
        if wait > 0:
            await asyncio.sleep(wait)
        await self._deliver(batch.split(self.batch_size, self.batch_bytes), end)

    def _shape(self, batch: Batch) -> Batch:
        """The records this backend's pipeline keeps of `batch` (see shaping.py). Events a transform kills
        are dead-lettered here (before the cursor can pass them); the filtered ones are counted as the
        cursor passes them (_advance)."""
        assert self.shaper is not None
        raw, start = batch.raw, batch.first_seq
        shaped = self.shaper.shape(raw, start)
        dead = [(seq, raw[seq - start], why) for seq, why in shaped.dead if seq >= self._dead_mark]
        if dead:
            self._write_dead(dead, f"{len(dead)} event(s): {dead[-1][2]}")
            self._dead_mark = dead[-1][0] + 1
        self._filtered_seqs = shaped.filtered
        self._source = (start, raw) if self.shaper.reshapes else None
        return Batch(shaped.raw, start, seqs=shaped.seqs, decoded=shaped.decoded)

    async def _deliver(self, pending: list[Batch], end: int) -> None:
        """Send consecutive batches in order, moving the cursor past each one settled; a batch the
        receiver refuses as too large is replaced by its halves. Returns after a transient failure
        (the rest is read from the spool again after the backoff)."""
        while pending and not self._stopping:
            batch = pending.pop(0)
            batch_end = pending[0].first_seq if pending else end
            self._sending = True
            try:
                await asyncio.wait_for(self.backend.send_batch(batch), self.delivery.send_timeout_s)
            except RequestTooLarge as exc:
                self.breaker.record_success()  # the backend answered; it is up
                self._attempt = 0
                if len(batch) > 1:
                    pending[:0] = self._split_refused(batch, exc)
                    continue
                alone = f"{exc} (a request holding only this event, {batch.size_bytes - 1} bytes)"
                if not await self._settle_refused(batch, PermanentError(alone), pending):
                    continue  # its halves are next, or (one event) pending is empty: read again later
                self._advance(batch_end)
                continue
            except PermanentError as exc:
                self.breaker.record_success()  # the backend answered; it is up
                self._attempt = 0
                if not await self._settle_refused(batch, exc, pending):
                    continue  # its halves are next, or (one event) pending is empty: read again later
                self._advance(batch_end)
                continue
            except Exception as exc:  # TransientError or anything unexpected: retry later
                self._failed(exc)
                retry_after = exc.retry_after_s if isinstance(exc, TransientError) else None
                delay = backoff_delay(self._attempt, self.delivery.backoff_initial_s, self.delivery.backoff_max_s)
                if retry_after is not None:
                    delay = min(max(delay, retry_after), self.delivery.backoff_max_s)
                self._sending = False
                await asyncio.sleep(max(delay, self.breaker.wait_s()))
                return
            finally:
                self._sending = False
            self._attempt = 0
            self.breaker.record_success()
            self.delivered += len(batch)
            self._count_delivered.inc(len(batch))
            self.last_success_at = time.time()
            self._advance(batch_end)

    async def _settle_refused(self, batch: Batch, exc: PermanentError, pending: list[Batch]) -> bool:
        """Dead-letter a permanently refused batch; True once it is written (the caller moves the cursor past it).
        The dead-letter file shares the spool's disk: when that is full (ENOSPC), the cursor is persisted (so
        segments already passed are freed) and the batch's halves go back to the front of `pending`, each sent
        and dead-lettered on its own; a single event that does not fit yet is tried again after a pause (False:
        the caller re-reads from the cursor). Delivery never stalls on a batch larger than the free space."""
        try:
            self._dead_letter(batch, exc)
            return True
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            message = f"the dead-letter file's disk is full ({err.strerror}); writing {len(batch)} event(s) in parts"
            self._note_error(message)
            log.warning("backend %s: %s", self.name, message)
        await self._maybe_persist(force=True)
        if len(batch) > 1:
            pending[:0] = list(batch.halves())
        else:
            await asyncio.sleep(self.delivery.backoff_max_s)
            pending.clear()
        return False

    def _split_refused(self, batch: Batch, exc: RequestTooLarge) -> list[Batch]:
        """The halves of a batch refused as too large; later batches are capped below its size too, so
        a receiver whose limit is under max_batch_bytes costs one refusal per halving, not one per batch."""
        size = batch.size_bytes
        self.batch_bytes = max(min(self.batch_bytes, size // 2), 1)
        log.warning(
            "backend %s: %d event(s), %d bytes refused as too large (%s); sending each half again, "
            "batches now up to %d bytes",
            self.name,
            len(batch),
            size,
            exc,
            self.batch_bytes,
        )
        return list(batch.halves())

    def _advance(self, end: int) -> None:
        filtered = self._filtered_seqs
        if filtered:  # the filtered-out events the cursor now passes
            passed = bisect.bisect_left(filtered, end) - bisect.bisect_left(filtered, self.cursor.seq)
            if passed > 0:
                self.filtered += passed
                self._count_filtered.inc(passed)
        self.cursor.seq = end
        self.metrics.lag.labels(self.name).set(self.lag)

    async def _maybe_persist(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.cursor.seq == self.cursor.persisted_seq:
            return
        if force or now - self._last_persist >= self.delivery.cursor_sync_interval_s:
            self._last_persist = now
            await asyncio.to_thread(self.cursor.persist)
            self.on_cursor_persisted()

    def _failed(self, exc: BaseException) -> None:
        self._attempt += 1
        self.attempts_failed += 1
        self.breaker.record_failure()
        self.metrics.attempts_failed.labels(self.name).inc()
        message = str(exc) or type(exc).__name__
        if isinstance(exc, TimeoutError):
            message = f"no answer within {self.delivery.send_timeout_s}s"
        self._note_error(message)
        log.warning("backend %s: delivery failed (attempt %d): %s", self.name, self._attempt, message)

    def _note_error(self, message: str) -> None:
        self.last_error = message
        self.last_error_at = time.time()

    def _dead_letter(self, batch: Batch, exc: PermanentError) -> None:
        reason = str(exc)
        indexes = sorted(exc.rejected) if exc.rejected else range(len(batch))
        # The dead-letter file keeps the event as spooled (before this backend's transform), so it can be
        # sent again through the same pipeline.
        items = [(batch.seq_of(i), self._spooled(batch, i), exc.rejected.get(i, reason)) for i in indexes]
        self._write_dead(items, reason)
        good = len(batch) - len(items)
        self.delivered += good
        self._count_delivered.inc(good)

    def _spooled(self, batch: Batch, index: int) -> bytes:
        if self._source is None:
            return batch.raw[index]
        start, raw = self._source
        return raw[batch.seq_of(index) - start]

    def _write_dead(self, items: list[tuple[int, bytes, str]], reason: str) -> None:
        self.dead_letters.write(self.name, items)
        self.dead_lettered += len(items)
        self._count_dead.inc(len(items))
        self.last_dead_letter_at = time.time()
        self._note_error(f"permanent: {reason}")
        log.error("backend %s: %d event(s) dead-lettered: %s", self.name, len(items), reason)
